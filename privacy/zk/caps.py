"""Work caps: how much an envelope may make the verifier do, checked before any curve math.

An envelope comes from whoever presents it (``POST /v1/proofs:verify``, a file handed to
``custos zk verify``), so nothing in it may set the verifier's work. The verifier's cost is
one point decoding or a few scalar multiplications per bit of every range statement and
per branch of every one-of claim, so the statement is capped first, from the parsed
claims alone:

- at most ``MAX_CLAIMS`` claims (envelope.py) and ``MAX_ONE_OF`` values per one-of set
  (predicates.py), both enforced by the parsers;
- at most ``MAX_RANGE_BITS`` range bits in all: Σ bits·(range statements) over the claims
  (a ``between`` has two), so 8 claims of 40 bits are fine, 8 ``between``s are not.

Then ``check_shape`` walks the proof's JSON and checks that every object has its members
and every list the length the claim's predicate and bit width call for (Bulletproofs
rounds and final vectors, bit commitments, OR challenges), so no list can be longer than
the statement allows and no point of a misshapen proof is ever decoded. The envelope's
serialized size is capped where it is read: the API's body limit, and
``MAX_ENVELOPE_BYTES`` for the offline verifier's file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from privacy.zk import bulletproofs
from privacy.zk.envelope import exact_members, parse_list
from privacy.zk.errors import WorkCapExceeded
from privacy.zk.predicates import Opening, or_values

if TYPE_CHECKING:
    from privacy.zk.proofs import Claim

__all__ = ["MAX_ENVELOPE_BYTES", "MAX_RANGE_BITS", "check_shape", "check_statement", "range_bits"]

MAX_RANGE_BITS = 320
# The API's default body limit (CUSTOS_API_MAX_BODY_BYTES): a legitimate envelope is a few
# kilobytes plus its context, whose values the envelope parser caps at 64 KiB each.
MAX_ENVELOPE_BYTES = 2 * 1024 * 1024

_BITS_MEMBERS = ("bits", "challenges", "responses")
_OR_MEMBERS = ("challenges", "responses")
_OPENING_MEMBERS = ("z_value", "z_blinding")


def range_bits(claims: Sequence[Claim]) -> int:
    return sum(c.bits * len(c.predicate.ranges()) for c in claims)


def check_statement(claims: Sequence[Claim]) -> None:
    """Raises WorkCapExceeded when the claims ask for more range bits than the cap."""
    total = range_bits(claims)
    if total > MAX_RANGE_BITS:
        raise WorkCapExceeded(
            f"the claims ask for {total} range bits, at most {MAX_RANGE_BITS}", field="claims"
        )


def _range_lengths(scheme: str, n: int) -> tuple[tuple[str, ...], dict[str, int]]:
    if scheme == "bulletproofs-v1":
        k, m = bulletproofs.rounds(n), bulletproofs.tail(n)
        return bulletproofs.MEMBERS, {"L": k, "R": k, "a": m, "b": m}
    return _BITS_MEMBERS, {"bits": n, "challenges": n, "responses": 2 * n}


def _lists(obj: Any, members: Sequence[str], lengths: Mapping[str, int], where: str) -> None:
    o = exact_members(obj, members, where)
    for name, length in lengths.items():
        parse_list(o[name], length, f"{where}.{name}")


def check_shape(scheme: str, claims: Sequence[Claim], proof: Any) -> None:
    """Raises InvalidEnvelope unless every object of ``proof`` has exactly its members and
    every list its length; looks at nothing but types, members and lengths."""
    p = exact_members(proof, ("challenge", "claims"), "proof")
    parts = parse_list(p["claims"], len(claims), "proof.claims")
    for i, (c, part) in enumerate(zip(claims, parts, strict=True)):
        where = f"proof.claims[{i}]"
        statements = c.predicate.ranges()
        if isinstance(c.predicate, Opening):
            exact_members(part, _OPENING_MEMBERS, where)
        elif not statements:
            m = len(or_values(c.predicate))
            _lists(part, _OR_MEMBERS, {"challenges": m - 1, "responses": m}, where)
        else:
            o = exact_members(part, ("ranges",), where)
            items = parse_list(o["ranges"], len(statements), f"{where}.ranges")
            members, lengths = _range_lengths(scheme, c.bits)
            for j, item in enumerate(items):
                _lists(item, members, lengths, f"{where}.ranges[{j}]")
