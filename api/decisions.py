"""Decisions on the record: evaluate the policy against the live consent and write each
decision (allowed or denied) to the ledger, shaped like an Open Policy Agent decision-log
entry. Nothing is ever dropped: a decision is returned only once its entry is committed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from api.errors import AccessRefused, Unauthenticated, UnknownDecision
from api.policy_holder import PolicyHolder
from api.principals import Principal
from consent_ledger.consent import Consent
from consent_ledger.db import Tx
from consent_ledger.encoding import format_timestamp
from consent_ledger.ledger import Appended, NewEntry
from consent_ledger.registry import ConsentRegistry
from consent_ledger.writer import BatchWriter, Job
from policies.decision import App, Context, Decision, Outcome, Request, Resource
from policies.engine import decide

__all__ = [
    "DecisionAsk",
    "DecisionLog",
    "RecordedDecision",
    "UsableDecision",
]

_ENTRY_TYPE = {
    Outcome.ALLOW: "access_allowed",
    Outcome.DENY: "access_denied",
    Outcome.NOT_APPLICABLE: "access_not_applicable",
}


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
class UsableDecision:
    decision_id: str
    client_id: str
    purpose: str
    categories: tuple[str, ...]
    obligations: tuple[str, ...]


def _opa_entry(
    decision_id: str, app: Principal, ask: DecisionAsk, d: Decision, trace_id: str | None
) -> dict[str, Any]:
    """An OPA decision-log shape. The input holds only a pseudonym and catalogue names."""
    return {
        "decision_id": decision_id,
        "policy": {"id": "custos/firm", "version": d.policy_version},
        "input": {
            "principal": {"app_id": app.account_id, "department": app.department},
            "action": ask.purpose,
            "resource": {"client_id": ask.client_id, "categories": list(ask.categories)},
            "context": {
                "access": ask.access,
                "stage": ask.stage,
                "proof_presented": ask.proof_presented,
            },
        },
        "result": {
            "outcome": d.outcome.value,
            "reason_code": d.reason_code.value,
            "rule_id": d.rule_id,
            "obligations": [str(o) for o in d.obligations],
        },
        "requested_by": app.account_id,
        "trace_id": trace_id,
    }


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
    ) -> None:
        self.registry = registry
        self.policy = policy
        self.writer = writer
        self.clock = clock
        self.ttl = ttl

    def decide(
        self, app: Principal, asks: Sequence[DecisionAsk], trace_id: str | None = None
    ) -> list[RecordedDecision]:
        """All or nothing: one bad item refuses the whole batch and writes nothing."""
        return self._finish(self.writer.run(self._job(app, asks, trace_id)))

    async def decide_async(
        self, app: Principal, asks: Sequence[DecisionAsk], trace_id: str | None = None
    ) -> list[RecordedDecision]:
        """As ``decide``, awaiting the group commit without holding a thread."""
        return self._finish(await self.writer.run_async(self._job(app, asks, trace_id)))

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
        self, app: Principal, asks: Sequence[DecisionAsk], trace_id: str | None
    ) -> Job[list[tuple[str, Decision]]]:
        if app.department is None:
            raise Unauthenticated("only an app key can ask for decisions")
        department = app.department

        def job(tx: Tx, first_index: int) -> tuple[list[tuple[str, Decision]], list[NewEntry]]:
            now = self.clock()
            compiled = self.policy.current
            consents: dict[str, Consent | None] = {}
            for ask in asks:
                if ask.client_id not in consents:
                    consents[ask.client_id] = self.registry.consent_of_client(tx, ask.client_id)
            made: list[tuple[str, Decision]] = []
            entries: list[NewEntry] = []
            for ask in asks:
                request = Request(
                    App(app.account_id, department),
                    ask.purpose,
                    Resource(ask.client_id, ask.categories),
                    Context(now, ask.access, ask.stage, ask.proof_presented),  # type: ignore[arg-type]
                )
                d = decide(compiled, consents[ask.client_id], request)
                decision_id = _decision_id()
                made.append((decision_id, d))
                entries.append(
                    NewEntry(
                        _ENTRY_TYPE[d.outcome],
                        ask.client_id,
                        _opa_entry(decision_id, app, ask, d, trace_id),
                    )
                )
            created = format_timestamp(now)
            tx.executemany(
                "INSERT INTO decisions (decision_id, app_id, client_id, purpose, categories,"
                " outcome, obligations, ledger_index, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        decision_id,
                        app.account_id,
                        ask.client_id,
                        ask.purpose,
                        orjson.dumps(list(ask.categories)).decode(),
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

    def usable(self, app: Principal, decision_id: str, client_id: str) -> UsableDecision:
        """The allow decision this app may now act on, or an error saying why not."""
        with self.registry.db.read() as tx:
            row = tx.one(
                "SELECT app_id, client_id, purpose, categories, outcome, obligations, created_at"
                " FROM decisions WHERE decision_id = ?",
                (decision_id,),
            )
        if row is None or row[0] != app.account_id:
            # Another app's decision is reported exactly like a missing one.
            raise UnknownDecision(f"no decision {decision_id} for this app", field="decision_id")
        if row[1] != client_id:
            raise AccessRefused("the decision was made for another client", field="decision_id")
        if row[4] != Outcome.ALLOW.value:
            raise AccessRefused(f"the decision was {row[4]}, not allow", field="decision_id")
        made = datetime.fromisoformat(row[6])
        if self.clock() - made > self.ttl:
            raise AccessRefused("the decision has expired; ask again", field="decision_id")
        return UsableDecision(
            decision_id,
            client_id,
            row[2],
            tuple(orjson.loads(row[3])),
            tuple(orjson.loads(row[5])),
        )
