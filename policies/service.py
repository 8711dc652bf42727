"""Decisions on the record: evaluate the policy against the live consent and write each
decision (allowed or denied) to the ledger, shaped like an Open Policy Agent decision-log
entry. Nothing is ever dropped: a decision is returned only once its entry is committed.

Every caller that decides (the API's routes and fast lane, the demo seed, and the DP and
federated layers) decides through this service, so each writes the same entries.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from policies.decision import (
    App,
    Context,
    Decision,
    Obligation,
    Outcome,
    Request,
    Resource,
)
from policies.engine import decide
from policies.errors import DecisionNotUsable, UnknownDecision
from policies.holder import PolicyHolder

__all__ = [
    "DecisionAsk",
    "DecisionLog",
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
    proof_presented: bool = False


@dataclass(frozen=True)
class RecordedDecision:
    decision_id: str
    decision: Decision
    ledger_index: int
    timestamp: str


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
    proof_presented: bool
    obligations: tuple[Obligation, ...]
    created_at: datetime

    def request(self, now: datetime) -> Request:
        """The same request, asked again at ``now``."""
        return Request(
            App(self.app_id, self.department),
            self.purpose,
            Resource(self.client_id, self.categories),
            Context(now, self.access, self.stage, self.proof_presented),  # type: ignore[arg-type]
        )


def _recorded(
    decision_id: str,
    app_id: str,
    department: str,
    ask: DecisionAsk,
    d: Decision,
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
        ask.proof_presented,
        d.outcome.value,
        d.reason_code.value,
        d.rule_id,
        tuple(str(o) for o in d.obligations),
        trace_id,
    )


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
    ) -> None:
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
    def _finish(
        done: tuple[list[tuple[str, Decision]], Sequence[Appended]],
    ) -> list[RecordedDecision]:
        made, appended = done
        return [
            RecordedDecision(decision_id, d, a.index, a.timestamp)
            for (decision_id, d), a in zip(made, appended, strict=True)
        ]

    def _job(
        self,
        app: Principal,
        asks: Sequence[DecisionAsk],
        trace_id: str | None = None,
        *,
        numbered: bool = False,
    ) -> Job[list[tuple[str, Decision]]]:
        """The decisions as a writer job: decided inside the batch's transaction, on the
        consent every earlier job in ledger order left."""
        if app.department is None:
            raise Unauthenticated("only an app key can ask for decisions")
        department = app.department
        app_id = app.account_id

        def job(tx: Tx, first_index: int) -> tuple[list[tuple[str, Decision]], list[NewEntry]]:
            now = self.clock()
            compiled = self.policy.current
            consents: dict[str, Consent | None] = {}
            made: list[tuple[str, Decision]] = []
            entries: list[NewEntry] = []
            for n, ask in enumerate(asks):
                try:
                    if ask.client_id not in consents:
                        consents[ask.client_id] = self.registry.consent_of_client(tx, ask.client_id)
                    request = Request(
                        App(app_id, department),
                        ask.purpose,
                        Resource(ask.client_id, ask.categories),
                        Context(now, ask.access, ask.stage, ask.proof_presented),  # type: ignore[arg-type]
                    )
                    d = decide(compiled, consents[ask.client_id], request)
                except CustosError as exc:
                    if numbered:
                        exc.field = f"items.{n}" + ("" if exc.field is None else f".{exc.field}")
                    raise
                decision_id = self.new_id()
                made.append((decision_id, d))
                entries.append(_recorded(decision_id, app_id, department, ask, d, trace_id).entry())
            created = format_timestamp(now)
            tx.executemany(
                "INSERT INTO decisions (decision_id, app_id, department, client_id, purpose,"
                " categories, access, stage, proof_presented, outcome, obligations,"
                " ledger_index, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        decision_id,
                        app_id,
                        department,
                        ask.client_id,
                        ask.purpose,
                        orjson.dumps(list(ask.categories)).decode(),
                        ask.access,
                        ask.stage,
                        int(ask.proof_presented),
                        d.outcome.value,
                        orjson.dumps([str(o) for o in d.obligations]).decode(),
                        first_index + n,
                        created,
                    )
                    for n, (ask, (decision_id, d)) in enumerate(zip(asks, made, strict=True))
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
            " proof_presented, outcome, obligations, created_at"
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
            bool(row[7]),
            tuple(Obligation.parse(o) for o in orjson.loads(row[9])),
            made,
        )
