"""Prove and verify claims about committed values: the one entry point of the core.

``prove(claims, witnesses, context, scheme=...)`` returns the JSON envelope (README.md,
"Envelope"); ``verify(envelope)`` returns a Verdict and never raises on hostile input. It
reads the statement, applies the work caps and checks the proof's shape (caps.py) before
it decodes a single point, so the envelope cannot choose how much curve arithmetic runs.
All claims of an envelope are proven together over one transcript that first binds the
protocol version, the scheme, the whole context and every claim (commitment, bit width,
predicate); the sigma protocols of all claims then answer one shared challenge ``e``.

Schemes differ only in how a range statement d ∈ [0, 2^bits) is proven: ``bits-v1`` by
bit decomposition with an OR proof per bit (bits.py), ``bulletproofs-v1`` by a Bulletproofs
range proof (bulletproofs.py). Opening, equality and one-of claims are the sigma protocols
of sigma.py in both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from privacy.zk import backend as _backend
from privacy.zk import bulletproofs, caps
from privacy.zk._curve import ORDER
from privacy.zk.backend import Backend, Point
from privacy.zk.batch import Batch
from privacy.zk.bits import BitRangeProver, bit_range_recompute
from privacy.zk.envelope import (
    FORMAT,
    MAX_CLAIMS,
    POINT_BYTES,
    VERSION,
    b64,
    check_context,
    decode_point,
    exact_members,
    parse_bytes,
    parse_int,
    parse_list,
    parse_points,
    parse_scalar,
    parse_scalars,
    scalar_text,
)
from privacy.zk.errors import (
    InvalidEnvelope,
    InvalidStatement,
    PredicateFalse,
    WorkCapExceeded,
    ZkError,
)
from privacy.zk.pedersen import Bases, bases, commit_point
from privacy.zk.predicates import Equals, OneOf, Opening, Predicate, or_values, predicate_from_json
from privacy.zk.sigma import (
    OpeningProof,
    OpeningProver,
    OrProof,
    OrProver,
    opening_recompute,
    or_recompute,
)
from privacy.zk.transcript import Transcript

__all__ = [
    "MAX_BITS",
    "OVER_CAP",
    "SCHEMES",
    "Claim",
    "Verdict",
    "Witness",
    "canonical_predicate",
    "prove",
    "read_statement",
    "verify",
]

SCHEMES = ("bits-v1", "bulletproofs-v1")
# How a verdict's reason starts when the envelope asks for more work than caps.py allows.
OVER_CAP = "over a work cap"
MAX_BITS = 40
_TOP_MEMBERS = ("format", "version", "scheme", "context", "claims", "proof")
_CLAIM_MEMBERS = ("commitment", "bits", "predicate")


@dataclass(frozen=True, slots=True)
class Claim:
    """A public statement: the value committed in ``commitment`` (48 bytes) satisfies
    ``predicate``, and its range statements fit in ``bits`` bits (1..40)."""

    commitment: bytes
    predicate: Predicate
    bits: int

    def to_json(self) -> dict[str, Any]:
        return {
            "commitment": b64(self.commitment),
            "bits": self.bits,
            "predicate": self.predicate.to_json(),
        }


@dataclass(frozen=True, slots=True)
class Witness:
    """The opening of a commitment; kept out of repr so it never lands in a log."""

    value: int = field(repr=False)
    blinding: int = field(repr=False)


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    reason: str
    context: Mapping[str, str]
    claims: tuple[Claim, ...]


def canonical_predicate(p: Predicate) -> bytes:
    return json.dumps(p.to_json(), sort_keys=True, separators=(",", ":")).encode("utf-8")


def _header(scheme: str, context: Mapping[str, str], claims: Sequence[Claim]) -> Transcript:
    t = Transcript()
    t.append_int("version", VERSION)
    t.append("scheme", scheme.encode("ascii"))
    t.append_int("context.count", len(context))
    for key in sorted(context):
        t.append("context.key", key.encode("utf-8"))
        t.append("context.value", context[key].encode("utf-8"))
    t.append_int("claims.count", len(claims))
    for i, c in enumerate(claims):
        t.append(f"claims[{i}].commitment", c.commitment)
        t.append_int(f"claims[{i}].bits", c.bits)
        t.append(f"claims[{i}].predicate", canonical_predicate(c.predicate))
    return t


def _target(b: Backend, base: Bases, commitment: Point, sign: int, offset: int) -> Point:
    """The commitment to d = sign·(v - offset), by the homomorphism."""
    shifted = b.mul_fixed(base.g_fixed, offset)
    return b.sub(commitment, shifted) if sign > 0 else b.sub(shifted, commitment)


def _or_bases(b: Backend, base: Bases, commitment: Point, values: Sequence[int]) -> list[Point]:
    return [b.sub(commitment, b.mul_fixed(base.g_fixed, v)) for v in values]


def _check_statement(
    claims: Sequence[Claim], witnesses: Sequence[Witness], context: Mapping[str, str], scheme: str
) -> dict[str, str]:
    if scheme not in SCHEMES:
        raise InvalidStatement(f"scheme must be one of {SCHEMES}", field="scheme")
    if not 1 <= len(claims) <= MAX_CLAIMS:
        raise InvalidStatement(f"an envelope has 1 to {MAX_CLAIMS} claims", field="claims")
    if len(witnesses) != len(claims):
        raise InvalidStatement("one witness per claim", field="witnesses")
    for i, c in enumerate(claims):
        if len(c.commitment) != POINT_BYTES:
            raise InvalidStatement(
                f"claims[{i}].commitment is {POINT_BYTES} bytes", field=f"claims[{i}].commitment"
            )
        if not 1 <= c.bits <= MAX_BITS or isinstance(c.bits, bool):
            raise InvalidStatement(
                f"claims[{i}].bits must be 1..{MAX_BITS}", field=f"claims[{i}].bits"
            )
        # Round-tripping rejects a predicate object the parser would not accept.
        if (
            predicate_from_json(c.predicate.to_json(), field=f"claims[{i}].predicate")
            != c.predicate
        ):
            raise InvalidStatement(
                f"claims[{i}].predicate is not canonical", field=f"claims[{i}].predicate"
            )
    try:
        caps.check_statement(claims)  # never prove what a verifier would turn away
        return check_context(context)
    except InvalidEnvelope as exc:  # a work cap or the context
        raise InvalidStatement(exc.message, field=exc.field) from None


def prove(
    claims: Sequence[Claim],
    witnesses: Sequence[Witness],
    context: Mapping[str, str],
    *,
    scheme: str = "bits-v1",
) -> dict[str, Any]:
    """The envelope proving every claim; PredicateFalse when a witness does not open its
    commitment, its value does not satisfy the predicate, or a range does not fit."""
    ctx = _check_statement(claims, witnesses, context, scheme)
    b = _backend.current()
    base = bases(b)
    for i, (c, w) in enumerate(zip(claims, witnesses, strict=True)):
        if b.encode(commit_point(w.value, w.blinding, b)) != c.commitment:
            raise PredicateFalse(f"the witness of claims[{i}] does not open its commitment")
        if not c.predicate.holds(w.value):
            raise PredicateFalse(f"the predicate of claims[{i}] does not hold")
        for sign, offset in c.predicate.ranges():
            if sign * (w.value - offset) >= 1 << c.bits:
                raise PredicateFalse(
                    f"the range of claims[{i}] does not fit in {c.bits} bits",
                    field=f"claims[{i}].bits",
                )

    t = _header(scheme, ctx, claims)
    out: list[dict[str, Any]] = [{} for _ in claims]
    sigma: list[tuple[int, OpeningProver | OrProver]] = []
    bit_provers: dict[int, list[BitRangeProver]] = {}
    for i, (c, w) in enumerate(zip(claims, witnesses, strict=True)):
        p = c.predicate
        if isinstance(p, Opening):
            sigma.append((i, OpeningProver(b, base, w.value, w.blinding)))
        elif isinstance(p, Equals | OneOf):
            values = or_values(p)
            offsets = [w.value - public for public in values]
            sigma.append((i, OrProver(b, base, offsets, values.index(w.value), w.blinding)))
        else:
            ranges = []
            for j, (sign, offset) in enumerate(p.ranges()):
                d, rho = sign * (w.value - offset), sign * w.blinding % ORDER
                if scheme == "bulletproofs-v1":
                    label = f"claims[{i}].range[{j}]"
                    ranges.append(bulletproofs.prove(b, base, t, label, d, rho, c.bits))
                else:
                    bit_provers.setdefault(i, []).append(BitRangeProver(b, base, d, rho, c.bits))
            out[i]["ranges"] = ranges

    # Absorb every first message, claim by claim, then draw the one shared challenge.
    encoded_bits: dict[tuple[int, int], list[bytes]] = {}
    for i in range(len(claims)):
        for j, rp in enumerate(bit_provers.get(i, [])):
            encoded_bits[i, j] = b.encode_many(rp.bit_points)
            t.append_points(f"claims[{i}].range[{j}].bits", encoded_bits[i, j])
            t.append_points(f"claims[{i}].range[{j}].first", b.encode_many(rp.first))
    for i, sp in sigma:
        t.append_points(f"claims[{i}].first", b.encode_many(sp.first))
    e = t.challenge("e")

    for i, rps in bit_provers.items():
        for j, rp in enumerate(rps):
            ors = rp.respond(e)
            out[i]["ranges"].append(
                {
                    "bits": [b64(x) for x in encoded_bits[i, j]],
                    "challenges": [scalar_text(o.challenges[0]) for o in ors],
                    "responses": [scalar_text(z) for o in ors for z in o.responses],
                }
            )
    for i, sp in sigma:
        answer = sp.respond(e)
        if isinstance(answer, OpeningProof):
            out[i] = {
                "z_value": scalar_text(answer.z_value),
                "z_blinding": scalar_text(answer.z_blinding),
            }
        else:
            out[i] = {
                "challenges": [scalar_text(x) for x in answer.challenges],
                "responses": [scalar_text(x) for x in answer.responses],
            }
    return {
        "format": FORMAT,
        "version": VERSION,
        "scheme": scheme,
        "context": dict(ctx),
        "claims": [c.to_json() for c in claims],
        "proof": {"challenge": scalar_text(e), "claims": out},
    }


def _read_head(envelope: Any) -> tuple[str, dict[str, str], tuple[Claim, ...]]:
    """The statement, read and capped (caps.py) without any curve arithmetic: the
    commitments stay bytes until ``_decode``."""
    top = exact_members(envelope, _TOP_MEMBERS, "envelope")
    if top["format"] != FORMAT:
        raise InvalidEnvelope(f"format must be {FORMAT!r}", field="format")
    parse_int(top["version"], VERSION, VERSION, "version")
    scheme = top["scheme"]
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise InvalidEnvelope(f"scheme must be one of {SCHEMES}", field="scheme")
    ctx = check_context(top["context"])
    raw = top["claims"]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CLAIMS:
        raise InvalidEnvelope(f"claims must be a list of 1 to {MAX_CLAIMS}", field="claims")
    claims = []
    for i, item in enumerate(raw):
        o = exact_members(item, _CLAIM_MEMBERS, f"claims[{i}]")
        data = parse_bytes(o["commitment"], POINT_BYTES, f"claims[{i}].commitment")
        bits = parse_int(o["bits"], 1, MAX_BITS, f"claims[{i}].bits")
        try:
            predicate = predicate_from_json(o["predicate"], field=f"claims[{i}].predicate")
        except InvalidStatement as exc:
            raise InvalidEnvelope(exc.message, field=exc.field) from None
        claims.append(Claim(data, predicate, bits))
    caps.check_statement(claims)
    return scheme, ctx, tuple(claims)


def _decode(b: Backend, claims: Sequence[Claim]) -> list[Point]:
    return [decode_point(b, c.commitment, f"claims[{i}].commitment") for i, c in enumerate(claims)]


def _check_proof(
    b: Backend,
    scheme: str,
    ctx: Mapping[str, str],
    claims: Sequence[Claim],
    points: Sequence[Point],
    proof: Any,
) -> str:
    """'' when the proof verifies, else the reason; raises InvalidEnvelope on bad form."""
    base = bases(b)
    p = exact_members(proof, ("challenge", "claims"), "proof")
    e = parse_scalar(p["challenge"], "proof.challenge")
    parts = parse_list(p["claims"], len(claims), "proof.claims")
    t = _header(scheme, ctx, claims)
    batch = Batch(b)  # every range proof's equations, checked in one MSM at the end
    firsts: list[tuple[str, list[Point]]] = []
    bit_firsts: list[tuple[str, list[bytes], list[Point]]] = []
    for i, (c, point, part) in enumerate(zip(claims, points, parts, strict=True)):
        where = f"proof.claims[{i}]"
        pred = c.predicate
        if isinstance(pred, Opening):
            o = exact_members(part, ("z_value", "z_blinding"), where)
            op = OpeningProof(
                parse_scalar(o["z_value"], f"{where}.z_value"),
                parse_scalar(o["z_blinding"], f"{where}.z_blinding"),
            )
            firsts.append((f"claims[{i}].first", opening_recompute(b, base, point, op, e)))
            continue
        if isinstance(pred, Equals | OneOf):
            values = or_values(pred)
            o = exact_members(part, ("challenges", "responses"), where)
            orp = OrProof(
                tuple(parse_scalars(o["challenges"], len(values) - 1, f"{where}.challenges")),
                tuple(parse_scalars(o["responses"], len(values), f"{where}.responses")),
            )
            xs = _or_bases(b, base, point, values)
            firsts.append((f"claims[{i}].first", or_recompute(b, base, xs, orp, e)))
            continue
        o = exact_members(part, ("ranges",), where)
        statements = pred.ranges()
        items = parse_list(o["ranges"], len(statements), f"{where}.ranges")
        for j, ((sign, offset), item) in enumerate(zip(statements, items, strict=True)):
            at = f"{where}.ranges[{j}]"
            target = _target(b, base, point, sign, offset)
            if scheme == "bulletproofs-v1":
                rp = bulletproofs.parse(b, item, c.bits, at)
                if not bulletproofs.verify(
                    b, base, t, f"claims[{i}].range[{j}]", target, c.bits, rp, batch
                ):
                    return f"the range proof of claims[{i}] does not verify"
                continue
            r = exact_members(item, ("bits", "challenges", "responses"), at)
            bit_pts = parse_points(b, r["bits"], c.bits, f"{at}.bits")
            chal = parse_scalars(r["challenges"], c.bits, f"{at}.challenges")
            resp = parse_scalars(r["responses"], 2 * c.bits, f"{at}.responses")
            ors = [OrProof((chal[k],), (resp[2 * k], resp[2 * k + 1])) for k in range(c.bits)]
            try:
                implied = bit_range_recompute(b, base, target, [x for _, x in bit_pts], ors, e)
            except InvalidEnvelope:
                return f"the bit commitments of claims[{i}] do not add up to its commitment"
            bit_firsts.append((f"claims[{i}].range[{j}]", [d for d, _ in bit_pts], implied))
    for label, encoded, implied in bit_firsts:
        t.append_points(label + ".bits", encoded)
        t.append_points(label + ".first", b.encode_many(implied))
    for label, implied in firsts:
        t.append_points(label, b.encode_many(implied))
    if t.challenge("e") != e:
        return "the proof does not verify for these claims and this context"
    # Last, as the most expensive check: the hash above already turned away edited proofs.
    if batch.equations and not batch.holds():
        return "the range proofs do not verify"
    return ""


def read_statement(envelope: Any) -> tuple[str, dict[str, str], tuple[Claim, ...]]:
    """The scheme, context and claims of an envelope, without checking the proof: cheap,
    so a caller can refuse an envelope that is not about what it asked before paying for
    verification. Raises InvalidEnvelope. Nothing it returns is proven."""
    scheme, ctx, claims = _read_head(envelope)
    _decode(_backend.current(), claims)
    return scheme, ctx, claims


def verify(envelope: Mapping[str, Any]) -> Verdict:
    """Check an envelope completely (form, every point and scalar, the proof over the
    transcript). The caller still has to check that the context and the claims are the
    ones it asked for."""
    b = _backend.current()
    try:
        scheme, ctx, claims = _read_head(envelope)
    except WorkCapExceeded as exc:
        return Verdict(False, f"{OVER_CAP}: {exc.message}", {}, ())
    except ZkError as exc:
        return Verdict(False, f"malformed envelope: {exc.message}", {}, ())
    try:
        caps.check_shape(scheme, claims, envelope["proof"])
    except ZkError as exc:
        return Verdict(False, f"malformed proof: {exc.message}", ctx, claims)
    # The work is bounded now; the curve arithmetic starts with the commitments.
    try:
        points = _decode(b, claims)
    except ZkError as exc:
        return Verdict(False, f"malformed envelope: {exc.message}", {}, ())
    try:
        reason = _check_proof(b, scheme, ctx, claims, points, envelope["proof"])
    except ZkError as exc:
        return Verdict(False, f"malformed proof: {exc.message}", ctx, claims)
    if reason:
        return Verdict(False, reason, ctx, claims)
    return Verdict(True, "ok", ctx, claims)
