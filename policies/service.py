"""Decisions on the record: evaluate the policy against the live consent and write each
decision (allowed or denied) to the ledger, shaped like an Open Policy Agent decision-log
entry. Nothing is ever dropped: a decision is returned only once its entry is committed.

Every caller that decides (the API's routes and fast lane, the demo seed, and the DP and
federated layers) decides through this service, so each writes the same entries.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from consent_ledger.consent import Consent
from consent_ledger.db import Tx
from consent_ledger.encoding import format_timestamp
from consent_ledger.entries import AccessDecided
from consent_ledger.errors import Unauthenticated
from consent_ledger.ledger import Appended, NewEntry
from consent_ledger.principals import Principal
from consent_ledger.registry import ConsentRegistry
from consent_ledger.writer import BatchWriter, Job
from custos_errors import CustosError
from policies.compiled import CompiledPolicy
from policies.decision import (
    App,
    Context,
    Decision,
    Obligation,
    ObligationKind,
    Outcome,
    ReasonCode,
    Request,
    Resource,
)
from policies.engine import decide
from policies.errors import DecisionNotUsable, UnknownDecision
from policies.holder import PolicyHolder
from policies.model import ProofRule
from policies.proof_requests import ProofRequest, ProofRequests

__all__ = [
    "DecisionAsk",
    "DecisionLog",
    "ProvenFact",
    "RecordedDecision",
    "StoredDecision",
]


@dataclass(frozen=True)
class DecisionAsk:
    client_id: str
    purpose: str
    categories: tuple[str, ...]
    access: str = "row"
    stage: str | None = None
    # A proof the server verified (POST /v1/proofs:verify), offered to pass a proof rule.
    proof_id: str | None = None


@dataclass(frozen=True)
class ProvenFact:
    """What an allow through a proof rule carries: the predicate held, never the value."""

    proof_id: str
    rule_id: str
    attribute: str
    predicate: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "proof_id": self.proof_id,
            "rule_id": self.rule_id,
            "attribute": self.attribute,
            "predicate": dict(self.predicate),
            "holds": True,
        }


@dataclass(frozen=True)
class RecordedDecision:
    decision_id: str
    decision: Decision
    ledger_index: int
    timestamp: str
    proof_request: ProofRequest | None = None
    proof: ProvenFact | None = None


@dataclass(frozen=True)
class _Made:
    """One decision of a writer job, with what the proof flow added to it."""

    decision_id: str
    decision: Decision
    proof_id: str | None = None
    proof_request: ProofRequest | None = None
    proof: ProvenFact | None = None


@dataclass(frozen=True)
class StoredDecision:
    """A decision as stored beside its ledger entry: enough to decide it again."""

    decision_id: str
    app_id: str
    department: str
    client_id: str
    purpose: str
    categories: tuple[str, ...]
    access: str
    stage: str | None
    proven: frozenset[str]
    obligations: tuple[Obligation, ...]
    created_at: datetime

    def request(self, now: datetime) -> Request:
        """The same request, asked again at ``now``."""
        return Request(
            App(self.app_id, self.department),
            self.purpose,
            Resource(self.client_id, self.categories),
            Context(now, self.access, self.stage, self.proven),  # type: ignore[arg-type]
        )


def _recorded(
    decision_id: str,
    app_id: str,
    department: str,
    ask: DecisionAsk,
    d: Decision,
    proof_id: str | None,
    trace_id: str | None,
) -> AccessDecided:
    """The ledger body. The input holds only a pseudonym and catalogue names."""
    return AccessDecided(
        decision_id,
        d.policy_version,
        app_id,
        department,
        ask.purpose,
        ask.client_id,
        ask.categories,
        ask.access,
        ask.stage,
        proof_id,
        d.outcome.value,
        d.reason_code.value,
        d.rule_id,
        tuple(str(o) for o in d.obligations),
        trace_id,
    )


def _proof_rule(compiled: CompiledPolicy, rule_id: str) -> ProofRule:
    return next(r for r in compiled.policy.document.proofs if r.id == rule_id)


def _decision_id() -> str:
    """32 hex digits: the time in milliseconds, then 80 random bits (the layout of UUIDv7).

    Time first, so new ids land at the end of the decisions table's primary-key index
    instead of on a random page of it: with random ids every decision dirtied its own
    index page, which doubled what each commit wrote.
    """
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


class DecisionLog:
    def __init__(
        self,
        registry: ConsentRegistry,
        policy: PolicyHolder,
        writer: BatchWriter,
        clock: Callable[[], datetime],
        ttl: timedelta,
        new_id: Callable[[], str] = _decision_id,
        proofs: ProofRequests | None = None,
    ) -> None:
        self.proofs = proofs or ProofRequests()
        self.registry = registry
        self.new_id = new_id
        self.policy = policy
        self.writer = writer
        self.clock = clock
        self.ttl = ttl

    def decide(
        self,
        app: Principal,
        asks: Sequence[DecisionAsk],
        trace_id: str | None = None,
        *,
        numbered: bool = False,
    ) -> list[RecordedDecision]:
        """All or nothing: one bad item refuses the whole batch and writes nothing. With
        ``numbered`` (a batch), an error names its item: ``items.3.client_id``."""
        return self._finish(self.writer.run(self._job(app, asks, trace_id, numbered=numbered)))

    async def decide_async(
        self,
        app: Principal,
        asks: Sequence[DecisionAsk],
        trace_id: str | None = None,
        *,
        numbered: bool = False,
    ) -> list[RecordedDecision]:
        """As ``decide``, awaiting the group commit without holding a thread."""
        job = self._job(app, asks, trace_id, numbered=numbered)
        return self._finish(await self.writer.run_async(job))

    @staticmethod
    def _finish(done: tuple[list[_Made], Sequence[Appended]]) -> list[RecordedDecision]:
        made, appended = done
        return [
            RecordedDecision(
                m.decision_id, m.decision, a.index, a.timestamp, m.proof_request, m.proof
            )
            for m, a in zip(made, appended, strict=True)
        ]

    def _with_proofs(
        self,
        tx: Tx,
        ask: DecisionAsk,
        request: Request,
        compiled: CompiledPolicy,
        consent: Consent | None,
        decision_id: str,
    ) -> _Made:
        """Decide, letting a verified proof pass its rule: a valid one is spent on an allow
        that needed it; a refusal for want of a proof stores a fresh proof request."""
        app, now = request.principal, request.context.now
        acceptance = None
        if ask.proof_id is not None:
            acceptance = self.proofs.accepted(
                tx,
                ask.proof_id,
                department=app.department,
                client_id=ask.client_id,
                purpose=ask.purpose,
                now=now,
            )
            if acceptance.rule_id is not None:
                ctx = request.context
                proven = Context(ctx.now, ctx.access, ctx.stage, frozenset({acceptance.rule_id}))
                request = Request(app, request.action, request.resource, proven)
        d = decide(compiled, consent, request)
        if d.allowed and acceptance is not None and acceptance.rule_id is not None:
            if ObligationKind.REQUIRES_PROOF in {o.kind for o in d.obligations}:
                assert ask.proof_id is not None
                self.proofs.consume(tx, ask.proof_id, decision_id)
                rule = _proof_rule(compiled, acceptance.rule_id)
                fact = ProvenFact(ask.proof_id, rule.id, rule.attribute, acceptance.predicate or {})
                return _Made(decision_id, d, ask.proof_id, None, fact)
            return _Made(decision_id, d)
        if d.reason_code is not ReasonCode.PROOF_REQUIRED or d.rule_id is None:
            return _Made(decision_id, d)
        category = next(c.category for c in d.details if c.reason_code is ReasonCode.PROOF_REQUIRED)
        pending = self.proofs.create(
            tx,
            app_id=app.app_id,
            department=app.department,
            client_id=ask.client_id,
            purpose=ask.purpose,
            rule=_proof_rule(compiled, d.rule_id),
            category=category,
            decision_id=decision_id,
            now=now,
        )
        if acceptance is not None and acceptance.reason is not None:
            d = d._replace(
                reason=f"{d.reason}; proof {ask.proof_id} not accepted: {acceptance.reason}"
            )
        return _Made(decision_id, d, None, pending)

    def _job(
        self,
        app: Principal,
        asks: Sequence[DecisionAsk],
        trace_id: str | None = None,
        *,
        numbered: bool = False,
    ) -> Job[list[_Made]]:
        """The decisions as a writer job: decided inside the batch's transaction, on the
        consent every earlier job in ledger order left."""
        if app.department is None:
            raise Unauthenticated("only an app key can ask for decisions")
        department = app.department
        app_id = app.account_id

        def job(tx: Tx, first_index: int) -> tuple[list[_Made], list[NewEntry]]:
            now = self.clock()
            compiled = self.policy.current
            consents: dict[str, Consent | None] = {}
            made: list[_Made] = []
            entries: list[NewEntry] = []
            for n, ask in enumerate(asks):
                try:
                    if ask.client_id not in consents:
                        consents[ask.client_id] = self.registry.consent_of_client(tx, ask.client_id)
                    request = Request(
                        App(app_id, department),
                        ask.purpose,
                        Resource(ask.client_id, ask.categories),
                        Context(now, ask.access, ask.stage),  # type: ignore[arg-type]
                    )
                    consent = consents[ask.client_id]
                    decision_id = self.new_id()
                    if ask.proof_id is None and request.context.stage is None:
                        # The hot path: no stage, so no proof rule can apply.
                        m = _Made(decision_id, decide(compiled, consent, request))
                    else:
                        m = self._with_proofs(tx, ask, request, compiled, consent, decision_id)
                except CustosError as exc:
                    if numbered:
                        exc.field = f"items.{n}" + ("" if exc.field is None else f".{exc.field}")
                    raise
                made.append(m)
                entries.append(
                    _recorded(
                        decision_id, app_id, department, ask, m.decision, m.proof_id, trace_id
                    ).entry()
                )
            created = format_timestamp(now)
            tx.executemany(
                "INSERT INTO decisions (decision_id, app_id, department, client_id, purpose,"
                " categories, access, stage, proof_id, outcome, obligations,"
                " ledger_index, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        m.decision_id,
                        app_id,
                        department,
                        ask.client_id,
                        ask.purpose,
                        orjson.dumps(list(ask.categories)).decode(),
                        ask.access,
                        ask.stage,
                        m.proof_id,
                        m.decision.outcome.value,
                        orjson.dumps([str(o) for o in m.decision.obligations]).decode(),
                        first_index + n,
                        created,
                    )
                    for n, (ask, m) in enumerate(zip(asks, made, strict=True))
                ],
            )
            return made, entries

        return job

    def stored(self, tx: Tx, app: Principal, decision_id: str, client_id: str) -> StoredDecision:
        """The allow decision this app made for this client and may still act on (within
        its time to live), or an error saying why not. The caller decides it again on the
        consent of the moment before acting on it (``policies.access``)."""
        row = tx.one(
            "SELECT app_id, department, client_id, purpose, categories, access, stage,"
            " proof_id, outcome, obligations, created_at"
            " FROM decisions WHERE decision_id = ?",
            (decision_id,),
        )
        if row is None or row[0] != app.account_id:
            # Another app's decision is reported exactly like a missing one.
            raise UnknownDecision(f"no decision {decision_id} for this app", field="decision_id")
        if row[2] != client_id:
            raise DecisionNotUsable("the decision was made for another client", field="decision_id")
        if row[8] != Outcome.ALLOW.value:
            raise DecisionNotUsable(f"the decision was {row[8]}, not allow", field="decision_id")
        made = datetime.fromisoformat(row[10])
        if self.clock() - made > self.ttl:
            raise DecisionNotUsable("the decision has expired; ask again", field="decision_id")
        if not row[1]:
            # Made before decisions stored their context (migration 0004): it cannot be
            # decided again, so it cannot be redeemed.
            raise DecisionNotUsable(
                "the decision predates redemption checks; ask again", field="decision_id"
            )
        return StoredDecision(
            decision_id,
            row[0],
            row[1],
            row[2],
            row[3],
            tuple(orjson.loads(row[4])),
            row[5],
            row[6],
            self._proven(tx, row[7]),
            tuple(Obligation.parse(o) for o in orjson.loads(row[9])),
            made,
        )

    def _proven(self, tx: Tx, proof_id: str | None) -> frozenset[str]:
        """The proof rule the decision's proof satisfied, to decide it again as it was made."""
        rule = None if proof_id is None else self.proofs.rule_of(tx, proof_id)
        return frozenset() if rule is None else frozenset({rule})
