"""The proof flow: a client's proof produced on their behalf, and its verification.

``prove`` answers a stored proof request (``policies.proof_requests``) with an envelope,
only if the client's consent covers it: the policy engine decides the request's use again
(department, purpose, the attribute's category, so its level) on the consent of the moment,
and anything but an allow names what the consent lacks. The witness is the opening the desk
keeps in the client's vault; an erased client has none, so nothing can be proved about
them any more.

``verify`` is ``POST /v1/proofs:verify``: the envelope must verify (privacy.zk.proofs),
its context must be the stored request's (protocol, request id, nonce, audience department,
client, purpose, the digest of the client's consent now), its claim must be the request's
predicate over the attribute's commitment, and that commitment must be in the client's
current attestation, signed by a current desk key and unexpired. Only the audience
department may present it, and only once. Every verdict is a ``proof_verified`` or
``proof_rejected`` entry, written in the transaction that records the proof.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from consent_ledger.db import Tx
from consent_ledger.encoding import format_timestamp
from consent_ledger.entries import ProofChecked
from consent_ledger.errors import UnknownClient
from consent_ledger.ledger import NewEntry
from consent_ledger.principals import Principal
from consent_ledger.registry import ConsentRegistry
from consent_ledger.runtime import Custos
from consent_ledger.writer import BatchWriter
from custos_errors import CustosError
from policies.access import DataAccess
from policies.attributes import Attributes, default_attributes
from policies.decision import App, Context, ReasonCode, Request, Resource
from policies.engine import decide
from policies.holder import PolicyHolder
from policies.proof_requests import (
    PROTOCOL,
    ProofRequest,
    ProofRequestNotUsable,
    ProofRequests,
    UnknownProofRequest,
    consent_digest,
)
from privacy.zk import proofs
from privacy.zk.attestation import DeskKey, check_attestation, parse_attestations
from privacy.zk.desk import Desk
from privacy.zk.flow_errors import AttestationInvalid, ConsentNotCovering
from privacy.zk.predicates import predicate_from_json

__all__ = ["CONTEXT_KEYS", "ProofService", "Verification", "proof_service"]

log = structlog.get_logger(__name__)

# The flow's proofs are Bulletproofs: a 32-bit threshold is 864 bytes against bit
# decomposition's 4,640, and its verification is the cheaper one on both backends (bench/zk.py).
# The verifier accepts either scheme, so envelopes made with bits-v1 still verify.
FLOW_SCHEME = "bulletproofs-v1"

CONTEXT_KEYS = frozenset(
    {
        "protocol",
        "request_id",
        "nonce",
        "client",
        "department",
        "purpose",
        "consent",
        "attestations",
        "expires",
    }
)
_CONSENT_CODES = {
    ReasonCode.NO_CONSENT,
    ReasonCode.CONSENT_EXPIRED,
    ReasonCode.PURPOSE_NOT_CONSENTED,
    ReasonCode.LEVEL_NOT_CONSENTED,
    ReasonCode.MODEL_TRAINING_NOT_CONSENTED,
    ReasonCode.MARKETING_NOT_OPTED_IN,
}


@dataclass(frozen=True)
class Verification:
    valid: bool
    reason: str
    proof_id: str | None
    ledger_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "reason": self.reason,
            "proof_id": self.proof_id,
            "ledger_index": self.ledger_index,
        }


class ProofService:
    def __init__(
        self,
        registry: ConsentRegistry,
        policy: PolicyHolder,
        desk: Desk,
        requests: ProofRequests,
        writer: BatchWriter,
        attributes: Attributes,
        clock: Callable[[], datetime],
    ) -> None:
        self.registry = registry
        self.policy = policy
        self.desk = desk
        self.requests = requests
        self.writer = writer
        self.attributes = attributes
        self.clock = clock

    @property
    def db(self) -> Any:
        return self.registry.db

    # -- the client's side ---------------------------------------------------------------

    def pending(self, client_id: str) -> list[ProofRequest]:
        with self.db.read() as tx:
            return self.requests.pending(tx, client_id, self.clock())

    def lookup(self, request_id: str) -> ProofRequest:
        """Any stored request (the desk's prover on the command line)."""
        with self.db.read() as tx:
            return self._request(tx, request_id, None)

    def prove(self, request_id: str, *, client_id: str | None = None) -> dict[str, Any]:
        """The envelope answering the request (the desk's and the CLI's prover). With
        ``client_id``, only that client's request (the portal)."""
        now = self.clock()
        with self.db.read() as tx:
            request = self._request(tx, request_id, client_id)
            return self._prove(tx, request, now)

    def approve(self, client_id: str, request_id: str) -> dict[str, Any]:
        """The client approves: the proof is produced and kept for the department to fetch."""
        now = self.clock()
        # Proved under a read transaction, so the writers never wait for the curve
        # arithmetic; ``answer`` then refuses a request answered in between.
        with self.db.read() as tx:
            request = self._request(tx, request_id, client_id)
            envelope = self._prove(tx, request, now)
        with self.db.write() as tx:
            self.requests.answer(tx, request, "approved", now, envelope)
        log.info("zk_proof_approved", client_id=client_id, request_id=request_id)
        return envelope

    def decline(self, client_id: str, request_id: str) -> None:
        now = self.clock()
        with self.db.write() as tx:
            request = self._request(tx, request_id, client_id)
            self.requests.answer(tx, request, "declined", now)
        log.info("zk_proof_declined", client_id=client_id, request_id=request_id)

    def _request(self, tx: Tx, request_id: str, client_id: str | None) -> ProofRequest:
        if client_id is not None:
            return self.requests.for_client(tx, client_id, request_id)
        found = self.requests.get(tx, request_id)
        if found is None:
            raise UnknownProofRequest(f"no proof request {request_id}", field="request_id")
        return found

    def _prove(self, tx: Tx, request: ProofRequest, now: datetime) -> dict[str, Any]:
        if request.expired(now):
            raise ProofRequestNotUsable("the proof request has expired", field="request_id")
        if request.status != "pending":
            raise ProofRequestNotUsable(
                f"the proof request is {request.status}, not pending", field="request_id"
            )
        try:
            consent = self.registry.consent_of_client(tx, request.client_id)
        except UnknownClient:
            raise ConsentNotCovering(
                "the client's data has been erased: no proof can be produced", field="client_id"
            ) from None
        self._consent_covers(request, consent, now)
        attestation = self.desk.current(tx, request.client_id, request.attribute)
        opening = self.desk.opening(tx, request.client_id, request.attribute)
        claim = proofs.Claim(
            attestation.commitment, predicate_from_json(request.predicate), attestation.bits
        )
        context = _context(request, consent_digest(consent), [attestation.to_json()])
        witness = proofs.Witness(opening.value, opening.blinding)
        return proofs.prove([claim], [witness], context, scheme=FLOW_SCHEME)

    def _consent_covers(self, request: ProofRequest, consent: Any, now: datetime) -> None:
        """The engine decides the use again, as if the proof were already verified: an allow
        means the consent covers the purpose and the attribute's level."""
        rule = next(
            (r for r in self.policy.current.policy.document.proofs if r.id == request.rule_id),
            None,
        )
        if rule is None:
            raise ProofRequestNotUsable(
                f"the policy in force has no proof rule {request.rule_id}", field="request_id"
            )
        again = decide(
            self.policy.current,
            consent,
            Request(
                App(request.app_id, request.department),
                request.purpose,
                Resource(request.client_id, (request.category,)),
                Context(now, "row", rule.stages[0], frozenset({rule.id})),
            ),
        )
        if again.allowed:
            return
        if again.reason_code in _CONSENT_CODES:
            raise ConsentNotCovering(
                f"the client's consent does not cover this proof: {again.reason}",
                field="consent",
            )
        raise ProofRequestNotUsable(
            f"the policy in force no longer allows this use: {again.reason}", field="request_id"
        )

    # -- the department's side -----------------------------------------------------------

    def fetch(self, app: Principal, request_id: str) -> ProofRequest:
        """The request as its audience department sees it (status, and the envelope once
        the client approved)."""
        with self.db.read() as tx:
            return self.requests.for_department(tx, app.department or "", request_id)

    def verify(self, app: Principal, envelope: Mapping[str, Any]) -> Verification:
        department = app.department or ""
        # The curve arithmetic runs before the writer job: it needs no database, and inside
        # the job it would hold up every decision waiting for the same group commit.
        verdict = proofs.verify(envelope)
        request_id = verdict.context.get("request_id") if verdict.valid else None
        if not verdict.valid:
            request_id = _peek_request_id(envelope)

        def job(tx: Tx, first_index: int) -> tuple[Verification, list[NewEntry]]:
            now = self.clock()
            request, attestation_id, reason = self._check(tx, department, verdict, request_id, now)
            proof_id = None
            if reason is None:
                assert request is not None and attestation_id is not None
                proof_id = self.requests.record_verified(
                    tx, request, attestation_id, now, first_index
                )
            entry = _entry(app, department, request, attestation_id, reason, proof_id)
            answer = Verification(reason is None, reason or "verified", proof_id, first_index)
            return answer, [entry]

        checked, _ = self.writer.run(job)
        log.info(
            "zk_proof_checked",
            valid=checked.valid,
            reason=checked.reason,
            index=checked.ledger_index,
        )
        return checked

    def _check(
        self,
        tx: Tx,
        department: str,
        verdict: proofs.Verdict,
        request_id: Any,
        now: datetime,
    ) -> tuple[ProofRequest | None, str | None, str | None]:
        """(request, attestation id, None) for a proof that holds, else the reason it does
        not, with as much of the request as could be tied to it."""
        context = verdict.context
        request = None
        if isinstance(request_id, str) and len(request_id) <= 64:
            request = self.requests.get(tx, request_id)
        if request is not None and request.department != department:
            # Another department's request: nothing of it goes into this verdict.
            return None, None, "wrong_audience"
        if not verdict.valid:
            return request, None, f"invalid_proof: {verdict.reason}"
        if set(context) != CONTEXT_KEYS or context.get("protocol") != PROTOCOL:
            return request, None, "wrong_protocol"
        if request is None:
            return None, None, "unknown_request"
        if self.requests.verified(tx, request.request_id):
            return request, None, "replayed"
        if request.expired(now):
            return request, None, "request_expired"
        if request.status == "declined":
            return request, None, "request_declined"
        expected = {
            "nonce": request.nonce,
            "client": request.client_id,
            "department": request.department,
            "purpose": request.purpose,
            "expires": format_timestamp(request.expires_at),
        }
        if any(context.get(k) != v for k, v in expected.items()):
            return request, None, "context_mismatch"
        try:
            consent = self.registry.consent_of_client(tx, request.client_id)
        except UnknownClient:
            return request, None, "client_erased"
        if context["consent"] != consent_digest(consent):
            return request, None, "consent_changed"
        return self._check_claim(tx, request, verdict.claims, context["attestations"], now)

    def _check_claim(
        self, tx: Tx, request: ProofRequest, claims: Any, attestations: str, now: datetime
    ) -> tuple[ProofRequest | None, str | None, str | None]:
        attr = self.attributes.get(request.attribute)
        if len(claims) != 1 or attr is None:
            return request, None, "wrong_statement"
        (claim,) = claims
        if claim.predicate != predicate_from_json(request.predicate) or claim.bits != attr.bits:
            return request, None, "wrong_statement"
        try:
            documents = parse_attestations(attestations)
        except AttestationInvalid:
            return request, None, "attestation_invalid"
        matching = [d for d in documents if d.commitment == claim.commitment]
        if len(matching) != 1:
            return request, None, "attestation_mismatch"
        (att,) = matching
        if (att.client, att.attribute, att.bits) != (request.client_id, attr.name, attr.bits):
            return request, None, "attestation_mismatch"
        keys = {k.key_id: k for k in self.desk.keys(tx)}
        problem = check_attestation(att, keys, now, current_only=True)
        if problem is not None:
            return request, att.attestation_id, problem
        if not self.desk.is_current(tx, att.attestation_id):
            return request, att.attestation_id, "attestation_superseded"
        return request, att.attestation_id, None

    def parameters_keys(self) -> list[DeskKey]:
        with self.db.read() as tx:
            return self.desk.keys(tx)


def _context(
    request: ProofRequest, consent: str, attestations: list[dict[str, Any]]
) -> dict[str, str]:
    return {
        "protocol": PROTOCOL,
        "request_id": request.request_id,
        "nonce": request.nonce,
        "client": request.client_id,
        "department": request.department,
        "purpose": request.purpose,
        "consent": consent,
        "attestations": json.dumps(attestations, sort_keys=True, separators=(",", ":")),
        "expires": format_timestamp(request.expires_at),
    }


def _peek_request_id(envelope: Mapping[str, Any]) -> Any:
    """The request id an invalid envelope names, to tie the rejection to its request."""
    context = envelope.get("context") if isinstance(envelope, Mapping) else None
    return context.get("request_id") if isinstance(context, Mapping) else None


def _entry(
    app: Principal,
    department: str,
    request: ProofRequest | None,
    attestation_id: str | None,
    reason: str | None,
    proof_id: str | None,
) -> NewEntry:
    # The ledger keeps the stable code only: the detail of an invalid proof quotes the core's
    # verdict on what the caller sent (a member name, say), which the caller already has.
    code = "verified" if reason is None else reason.split(":", 1)[0]
    return ProofChecked(
        reason is None,
        code,
        app.account_id,
        department,
        None if request is None else request.request_id,
        proof_id,
        None if request is None else request.purpose,
        None if request is None else request.rule_id,
        None if request is None else request.attribute,
        None if request is None else request.category,
        None if request is None else dict(request.predicate),
        attestation_id,
    ).entry(None if request is None else request.client_id)


def proof_service(
    custos: Custos,
    policy: PolicyHolder,
    requests: ProofRequests,
    data: DataAccess,
    writer: BatchWriter,
    clock: Callable[[], datetime],
) -> ProofService:
    """The flow's service over one installation, with the desk re-attesting each provable
    attribute a collection changes (``DataAccess.on_collected``)."""
    attributes = default_attributes(custos.catalogue)
    desk = Desk(custos, attributes, clock)
    provable = {a.category for a in attributes.by_name.values()}

    def reattest(client_id: str, categories: tuple[str, ...]) -> None:
        changed = provable.intersection(categories)
        if not changed:
            return
        try:
            desk.attest(client_id, changed)
        except CustosError as exc:
            # The values are stored; the old attestation stays until the next attestation.
            log.error("zk_reattest_failed", client_id=client_id, error=exc.code)

    data.on_collected.append(reattest)
    return ProofService(custos.registry, policy, desk, requests, writer, attributes, clock)
