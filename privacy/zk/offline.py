"""Offline verification of a recorded proof: ``custos zk verify --envelope F --parameters P``.

An auditor holds an envelope (from the ledger's proof or the department) and the parameters
document (``GET /v1/zk/parameters``). This checks, trusting nothing but those two files and
this code: the parameters' generators (Pedersen's G and H, and the Bulletproofs vectors
with their tag and derivation) are the ones this verifier recomputes; the envelope's
proof verifies (``privacy.zk.proofs.verify``); its context carries the flow's protocol and
keys; each claim's commitment is in exactly one attestation of the context, of the client
the context names, signed by a desk key of the parameters that was in force when the
attestation was issued, and unexpired at the request's expiry.

What only the server can know — whether the nonce was fresh, the proof presented once, the
consent digest the client's consent at the time — the ledger's ``proof_verified`` entry
records. Imports nothing of the server: privacy/zk, custos_errors and third-party packages
only (a test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from privacy.zk import bulletproofs, pedersen, proofs
from privacy.zk.attestation import (
    DeskKey,
    b64url,
    check_attestation,
    from_b64url,
    parse_attestations,
    parse_time,
)
from privacy.zk.flow_errors import AttestationInvalid

__all__ = ["OfflineVerdict", "parse_parameters", "verify_offline"]


@dataclass(frozen=True)
class OfflineVerdict:
    valid: bool
    reason: str
    context: Mapping[str, str]


@dataclass(frozen=True)
class Parameters:
    protocol: str
    context_keys: frozenset[str]
    keys: Mapping[str, DeskKey]


def parse_parameters(doc: Any) -> Parameters:
    """The parameters document, checked against the generators this verifier recomputes;
    AttestationInvalid names what is wrong."""
    if not isinstance(doc, Mapping) or doc.get("format") != "custos-zk-parameters":
        raise AttestationInvalid("not a custos-zk-parameters document", field="parameters")
    if doc.get("version") != 1:
        raise AttestationInvalid("parameters version must be 1", field="parameters.version")
    gens = pedersen.generators()
    mine = {
        "g": b64url(gens.g),
        "h": b64url(gens.h),
        "dst": gens.dst.decode("ascii"),
        "h_message": gens.h_message.decode("ascii"),
    }
    if doc.get("generators") != mine:
        raise AttestationInvalid(
            "the parameters' generators are not the ones this verifier recomputes",
            field="parameters.generators",
        )
    # A verifier that took other Bulletproofs generators on trust would check range proofs
    # against bases whose relations someone may know; so they too must be recomputed.
    if doc.get("bulletproofs") != bulletproofs.public_parameters():
        raise AttestationInvalid(
            "the parameters' Bulletproofs generators (tag, derivation or points) are not "
            "the ones this verifier recomputes",
            field="parameters.bulletproofs",
        )
    protocol, context_keys = doc.get("protocol"), doc.get("context_keys")
    if not isinstance(protocol, str) or not isinstance(context_keys, list):
        raise AttestationInvalid("parameters lack protocol or context_keys", field="parameters")
    raw_keys = doc.get("desk_keys")
    if not isinstance(raw_keys, list):
        raise AttestationInvalid("parameters.desk_keys must be a list", field="parameters")
    keys: dict[str, DeskKey] = {}
    for n, k in enumerate(raw_keys):
        where = f"parameters.desk_keys.{n}"
        if not isinstance(k, Mapping) or set(k) != {
            "key_id",
            "public_key",
            "valid_from",
            "valid_until",
        }:
            raise AttestationInvalid(f"{where} is not a desk key", field=where)
        until = k["valid_until"]
        key = DeskKey(
            str(k["key_id"]),
            from_b64url(k["public_key"], f"{where}.public_key"),
            parse_time(k["valid_from"], f"{where}.valid_from"),
            None if until is None else parse_time(until, f"{where}.valid_until"),
        )
        keys[key.key_id] = key
    return Parameters(protocol, frozenset(str(k) for k in context_keys), keys)


def _expiry(text: str) -> datetime:
    # The request's expiry, as the server formats it (RFC 3339 with microseconds, "Z").
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise AttestationInvalid("context.expires is not a time", field="context.expires") from None


def verify_offline(envelope: Mapping[str, Any], parameters: Parameters) -> OfflineVerdict:
    verdict = proofs.verify(envelope)
    context = verdict.context
    if not verdict.valid:
        return OfflineVerdict(False, f"invalid_proof: {verdict.reason}", context)
    if set(context) != parameters.context_keys or context.get("protocol") != parameters.protocol:
        return OfflineVerdict(False, "wrong_protocol", context)
    try:
        documents = parse_attestations(context["attestations"])
        at = _expiry(context["expires"])
    except AttestationInvalid as exc:
        return OfflineVerdict(False, f"attestation_invalid: {exc.message}", context)
    for claim in verdict.claims:
        matching = [d for d in documents if d.commitment == claim.commitment]
        if len(matching) != 1:
            return OfflineVerdict(False, "attestation_mismatch", context)
        (att,) = matching
        if att.client != context["client"] or att.bits != claim.bits:
            return OfflineVerdict(False, "attestation_mismatch", context)
        problem = check_attestation(att, parameters.keys, at, current_only=False)
        if problem is not None:
            return OfflineVerdict(False, problem, context)
    return OfflineVerdict(True, "verified", context)
