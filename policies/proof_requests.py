"""Proof requests and verified proofs: what lets a decision pass a proof rule.

A decision that hits a proof rule is denied with ``proof_required`` and a *proof request*
is stored in the same transaction: a fresh single-use nonce, the client, the attribute and
predicate (with its public parameters), the audience department and an expiry. The client
approves it (privacy/zk produces the proof on their behalf) and the department presents
the proof to ``POST /v1/proofs:verify``; privacy/zk verifies it and records it here once.
A later decision of that department for that client and purpose may name the ``proof_id``:
``accepted`` says whether it still satisfies the rule (verified, unexpired, unused) and
``consume`` spends it on the decision, so each proof lets exactly one decision through.

This module is the policy side of the flow (policies must not import privacy): tables,
nonces, expiry and single use; no curve math and no value.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from consent_ledger.consent import Consent
from consent_ledger.db import Tx
from consent_ledger.encoding import format_timestamp
from policies.errors import PolicyError
from policies.model import PredicateSpec, ProofRule

__all__ = [
    "DEFAULT_REQUEST_TTL",
    "PROTOCOL",
    "Acceptance",
    "ProofRequest",
    "ProofRequestNotUsable",
    "ProofRequests",
    "UnknownProofRequest",
    "consent_digest",
    "predicate_json",
]

# The protocol tag every proof's context carries (privacy/zk/README.md, "The flow").
PROTOCOL = "custos-zk-flow/1"
# Long enough for a client to open the portal and approve; short enough that a nonce
# does not linger.
DEFAULT_REQUEST_TTL = timedelta(minutes=30)


class UnknownProofRequest(PolicyError):
    """No proof request with this id for this caller (another department's reads the same)."""

    code = "unknown_proof_request"


class ProofRequestNotUsable(PolicyError):
    """The proof request has expired, was declined, or has already been answered."""

    code = "proof_request_not_usable"


def predicate_json(spec: PredicateSpec, on: date) -> dict[str, Any]:
    """The predicate with its public parameters, in the envelope's JSON form
    (privacy/zk/predicates.py); an age is asked on the day of the request."""
    kind = spec.kind
    if kind == "equals":
        return {"type": kind, "value": spec.equals}
    if kind == "one_of":
        assert spec.one_of is not None
        return {"type": kind, "values": list(spec.one_of)}
    if kind in ("at_least", "at_most"):
        return {"type": kind, "threshold": getattr(spec, kind)}
    if kind == "between":
        assert spec.between is not None
        return {"type": kind, "low": spec.between[0], "high": spec.between[1]}
    return {"type": kind, "years": spec.age_at_least, "on": on.isoformat()}


def consent_digest(consent: Consent | None) -> str:
    """SHA-256 (hex) of the consent a proof is given under: level, purposes, grant and
    expiry. A proof binds it, so a consent changed between proving and verifying voids it."""
    if consent is None:
        return hashlib.sha256(b"custos/zk/consent\x00none").hexdigest()
    state = {
        "client": consent.client_id,
        "level": consent.level,
        "purposes": sorted(consent.purposes),
        "granted_at": format_timestamp(consent.granted_at),
        "expires_at": None if consent.expires_at is None else format_timestamp(consent.expires_at),
    }
    return hashlib.sha256(
        b"custos/zk/consent\x00" + orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


@dataclass(frozen=True)
class ProofRequest:
    request_id: str
    nonce: str
    app_id: str
    department: str
    client_id: str
    purpose: str
    rule_id: str
    attribute: str
    category: str
    predicate: Mapping[str, Any]
    decision_id: str
    created_at: datetime
    expires_at: datetime
    status: str  # pending | approved | declined | verified
    envelope: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``proof_request`` object a decision answers with (no value, ever)."""
        return {
            "request_id": self.request_id,
            "nonce": self.nonce,
            "client_id": self.client_id,
            "attribute": self.attribute,
            "category": self.category,
            "predicate": dict(self.predicate),
            "purpose": self.purpose,
            "rule_id": self.rule_id,
            "audience": self.department,
            "expires_at": format_timestamp(self.expires_at),
        }

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(frozen=True)
class Acceptance:
    """Whether a ``proof_id`` satisfies a proof rule for a decision: the rule it proves, or
    the reason it does not (``proof_unknown``, ``proof_expired``, ``proof_used``)."""

    rule_id: str | None
    reason: str | None
    predicate: Mapping[str, Any] | None = None


_COLUMNS = (
    "request_id, nonce, app_id, department, client_id, purpose, rule_id, attribute, category,"
    " predicate, decision_id, created_at, expires_at, status, envelope"
)


def _row(row: Any) -> ProofRequest:
    return ProofRequest(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        orjson.loads(row[9]),
        row[10],
        datetime.fromisoformat(row[11]),
        datetime.fromisoformat(row[12]),
        row[13],
        None if row[14] is None else orjson.loads(row[14]),
    )


class ProofRequests:
    """The proof-request and verified-proof tables, inside the caller's transaction."""

    def __init__(self, ttl: timedelta = DEFAULT_REQUEST_TTL) -> None:
        self.ttl = ttl

    def create(
        self,
        tx: Tx,
        *,
        app_id: str,
        department: str,
        client_id: str,
        purpose: str,
        rule: ProofRule,
        category: str,
        decision_id: str,
        now: datetime,
    ) -> ProofRequest:
        request = ProofRequest(
            request_id="pr_" + secrets.token_hex(12),
            nonce=secrets.token_urlsafe(24),
            app_id=app_id,
            department=department,
            client_id=client_id,
            purpose=purpose,
            rule_id=rule.id,
            attribute=rule.attribute,
            category=category,
            predicate=predicate_json(rule.predicate, now.date()),
            decision_id=decision_id,
            created_at=now,
            expires_at=now + self.ttl,
            status="pending",
        )
        tx.execute(
            f"INSERT INTO zk_proof_requests ({_COLUMNS})"  # noqa: S608 - a constant column list
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                request.request_id,
                request.nonce,
                app_id,
                department,
                client_id,
                purpose,
                rule.id,
                rule.attribute,
                category,
                orjson.dumps(request.predicate).decode(),
                decision_id,
                format_timestamp(now),
                format_timestamp(request.expires_at),
                request.status,
                None,
            ),
        )
        return request

    def get(self, tx: Tx, request_id: str) -> ProofRequest | None:
        row = tx.one(
            f"SELECT {_COLUMNS} FROM zk_proof_requests WHERE request_id = ?",  # noqa: S608
            (request_id,),
        )
        return None if row is None else _row(row)

    def for_department(self, tx: Tx, department: str, request_id: str) -> ProofRequest:
        """The request, if this department is its audience; UnknownProofRequest otherwise."""
        found = self.get(tx, request_id)
        if found is None or found.department != department:
            raise UnknownProofRequest(f"no proof request {request_id}", field="request_id")
        return found

    def for_client(self, tx: Tx, client_id: str, request_id: str) -> ProofRequest:
        found = self.get(tx, request_id)
        if found is None or found.client_id != client_id:
            raise UnknownProofRequest(f"no proof request {request_id}", field="request_id")
        return found

    def pending(self, tx: Tx, client_id: str, now: datetime) -> list[ProofRequest]:
        """The client's requests still awaiting an answer, newest first."""
        rows = tx.all(
            f"SELECT {_COLUMNS} FROM zk_proof_requests"  # noqa: S608 - a constant column list
            " WHERE client_id = ? AND status = 'pending' AND expires_at > ?"
            " ORDER BY created_at DESC",
            (client_id, format_timestamp(now)),
        )
        return [_row(r) for r in rows]

    def answer(
        self,
        tx: Tx,
        request: ProofRequest,
        status: str,
        now: datetime,
        envelope: Mapping[str, Any] | None = None,
    ) -> None:
        """Approve (with the proof produced) or decline a pending, unexpired request."""
        if request.expired(now):
            raise ProofRequestNotUsable("the proof request has expired", field="request_id")
        changed = tx.execute(
            "UPDATE zk_proof_requests SET status = ?, envelope = ?"
            " WHERE request_id = ? AND status = 'pending'",
            (
                status,
                None if envelope is None else orjson.dumps(envelope).decode(),
                request.request_id,
            ),
        )
        if _rowcount(changed) != 1:
            raise ProofRequestNotUsable(
                "the proof request has already been answered", field="request_id"
            )

    def record_verified(
        self, tx: Tx, request: ProofRequest, attestation_id: str, now: datetime, ledger_index: int
    ) -> str:
        """Store a verified proof (once per request: the unique key refuses a second)."""
        proof_id = "pf_" + secrets.token_hex(12)
        tx.execute(
            "INSERT INTO zk_proofs (proof_id, request_id, attestation_id, verified_at,"
            " ledger_index, used_by) VALUES (?, ?, ?, ?, ?, NULL)",
            (proof_id, request.request_id, attestation_id, format_timestamp(now), ledger_index),
        )
        tx.execute(
            "UPDATE zk_proof_requests SET status = 'verified' WHERE request_id = ?",
            (request.request_id,),
        )
        return proof_id

    def verified(self, tx: Tx, request_id: str) -> bool:
        return tx.one("SELECT 1 FROM zk_proofs WHERE request_id = ?", (request_id,)) is not None

    def accepted(
        self,
        tx: Tx,
        proof_id: str,
        *,
        department: str,
        client_id: str,
        purpose: str,
        now: datetime,
    ) -> Acceptance:
        """Whether the proof satisfies its rule for a decision of this department about this
        client for this purpose, now. Another department's or client's proof reads as
        unknown, like a missing one."""
        row = tx.one(
            "SELECT r.department, r.client_id, r.purpose, r.rule_id, r.expires_at, p.used_by,"
            " r.predicate"
            " FROM zk_proofs p JOIN zk_proof_requests r ON r.request_id = p.request_id"
            " WHERE p.proof_id = ?",
            (proof_id,),
        )
        if row is None or (row[0], row[1], row[2]) != (department, client_id, purpose):
            return Acceptance(None, "proof_unknown")
        if now >= datetime.fromisoformat(row[4]):
            return Acceptance(None, "proof_expired")
        if row[5] is not None:
            return Acceptance(None, "proof_used")
        return Acceptance(str(row[3]), None, orjson.loads(row[6]))

    def consume(self, tx: Tx, proof_id: str, decision_id: str) -> None:
        tx.execute(
            "UPDATE zk_proofs SET used_by = ? WHERE proof_id = ? AND used_by IS NULL",
            (decision_id, proof_id),
        )

    def rule_of(self, tx: Tx, proof_id: str) -> str | None:
        """The proof rule a verified proof satisfied (to decide its decision again)."""
        row = tx.one(
            "SELECT r.rule_id FROM zk_proofs p"
            " JOIN zk_proof_requests r ON r.request_id = p.request_id WHERE p.proof_id = ?",
            (proof_id,),
        )
        return None if row is None else str(row[0])


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", -1))
