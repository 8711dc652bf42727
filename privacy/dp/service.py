"""Previews, releases and budgets: the DP layer's service (``/v1/stats`` calls only this).

A release is one ledger-writer job, so it runs in the transaction that appends its
``dp_release`` entry, after the ledger lock is taken and in ledger order after every
change committed before it:

1. the population advances over the entries appended since its snapshot (a revocation or
   an erasure committed before the release leaves it here);
2. membership: each consent class is decided by the policy in force for the
   ``research_analytics`` purpose over the categories the query reads, with aggregate
   access, and redeemed through ``Channel.DP_RELEASE`` (``DataAccess.admits_aggregate``);
3. the budget is checked and spent (``consent_ledger.budgets.spend``: over budget, the job
   fails and its savepoint leaves nothing spent and nothing written);
4. OpenDP's measurement runs on the members' rows and the entry is built from its output.

The answer is returned only once that transaction has committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

import orjson

from consent_ledger.budgets import Budget, amount, decimal_text, exact_text, load_budget, spend
from consent_ledger.consent import Consent, ConsentEvent
from consent_ledger.db import Tx
from consent_ledger.entries import DpRelease, EntryType
from consent_ledger.errors import Forbidden, UnknownClient
from consent_ledger.ledger import NewEntry
from consent_ledger.principals import Principal, Role
from consent_ledger.registry import ConsentRegistry
from consent_ledger.writer import BatchWriter
from policies.access import DataAccess
from policies.datasets import Dataset, Datasets
from privacy.dp.errors import InvalidStatistic
from privacy.dp.mechanisms import Error, Planned, Released, Value, epsilon_for_error, plan, run
from privacy.dp.population import Population
from privacy.dp.query import WARN_EPSILON, Shape, StatQuery, check_query

__all__ = ["Preview", "Release", "StatsService"]

PURPOSE = "research_analytics"
_CACHED_PLANS = 256
_MAX_LEDGER_INT = 2**53 - 1
# The entries after which a client's row is read again (or dropped).
_CHANGES = frozenset(
    {e.value for e in ConsentEvent} | {EntryType.DATA_COLLECTED.value, EntryType.DATA_ERASED.value}
)


@dataclass(frozen=True)
class Preview:
    epsilon: float
    confidence: float
    error: float | None
    epsilon_remaining: float
    warning: str | None


@dataclass(frozen=True)
class Release:
    value: Value
    error: Error
    confidence: float
    epsilon_spent: float
    epsilon_remaining: float
    mechanism: str
    ledger_index: int
    warning: str | None


def _warning(epsilon: float) -> str | None:
    if epsilon <= WARN_EPSILON:
        return None
    return (
        f"epsilon {epsilon} is above {WARN_EPSILON}: one release this large gives little "
        "protection to the clients in it"
    )


def _ledger_value(value: Value) -> Any:
    """The released aggregate as the ledger holds it: null and integers within ±(2⁵³ - 1)
    as they are, other numbers as decimal text (the ledger's encoding has no floats, and an
    integer outside that range: a release at a tiny ε may draw noise that large)."""
    if isinstance(value, dict):
        return {k: _ledger_value(v) for k, v in value.items()}
    if value is None or (isinstance(value, int) and abs(value) <= _MAX_LEDGER_INT):
        return value
    return str(value) if isinstance(value, int) else decimal_text(value)


def _client_state(
    tx: Tx, registry: ConsentRegistry, client_id: str, categories: tuple[str, ...]
) -> tuple[Consent, dict[str, Any]] | None:
    try:
        consent = registry.consent_of_client(tx, client_id)
    except UnknownClient:
        return None  # erased
    if consent is None:
        return None
    return consent, registry.vault.get(tx, client_id, categories)


def _ledger_size(tx: Tx) -> int:
    row = tx.one("SELECT MAX(idx) FROM ledger_entries")
    return 0 if row is None or row[0] is None else int(row[0]) + 1


class StatsService:
    def __init__(
        self,
        datasets: Datasets,
        data: DataAccess,
        registry: ConsentRegistry,
        writer: BatchWriter,
        clock: Callable[[], datetime],
    ) -> None:
        self.datasets = datasets
        self.data = data
        self.registry = registry
        self.writer = writer
        self.clock = clock
        self._populations: dict[str, Population] = {}
        self._loading = threading.Lock()
        # Measurements by query shape and ε: OpenDP's measurement is built once and then
        # applied, each application drawing fresh noise.
        self._plans: dict[tuple[Any, ...], Planned] = {}
        self._plans_lock = threading.Lock()

    # -- the population ------------------------------------------------------------------

    def population(self, dataset: Dataset) -> Population:
        """The dataset's population, read from the vault on first use (outside the writer,
        so the ledger is not held while every client is decrypted)."""
        with self._loading:
            found = self._populations.get(dataset.name)
            if found is None:
                found = self._load(dataset)
                self._populations[dataset.name] = found
            return found

    def adopt(self, population: Population) -> None:
        """Use a population built elsewhere (a benchmark's synthetic one); it is advanced
        over the ledger from its ``as_of`` like one read from the vault."""
        with self._loading:
            self._populations[population.dataset.name] = population

    def _load(self, dataset: Dataset) -> Population:
        categories = dataset.categories
        with self.registry.db.read() as tx:
            size = _ledger_size(tx)
            ids = [str(r[0]) for r in tx.all("SELECT client_id FROM consents ORDER BY client_id")]
            states = [(cid, _client_state(tx, self.registry, cid, categories)) for cid in ids]
        population = Population(dataset, 0)
        population.update(states, size)
        return population

    def _advance(self, tx: Tx, population: Population) -> None:
        size = _ledger_size(tx)
        if size <= population.as_of:
            return
        changed: dict[str, None] = {}
        rows = tx.all(
            "SELECT leaf FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (population.as_of, size),
        )
        for (leaf,) in rows:
            entry = orjson.loads(bytes(leaf))
            if entry["type"] in _CHANGES and entry["subject"] is not None:
                changed[entry["subject"]] = None
        categories = population.dataset.categories
        states = [(cid, _client_state(tx, self.registry, cid, categories)) for cid in changed]
        population.update(states, size)

    def _plan(self, shape: Shape, epsilon: float) -> Planned:
        key = (
            shape.dataset.name,
            shape.statistic,
            None if shape.column is None else shape.column.name,
            tuple(c.name for c in shape.group_by),
            shape.quantile,
            shape.confidence,
            epsilon,
        )
        with self._plans_lock:
            found = self._plans.get(key)
        if found is None:
            found = plan(shape, epsilon)
            with self._plans_lock:
                if len(self._plans) >= _CACHED_PLANS:
                    self._plans.pop(next(iter(self._plans)))
                self._plans[key] = found
        return found

    # -- budgets, previews and releases -------------------------------------------------------

    def budget(self, analyst: Principal) -> Budget:
        _require_analyst(analyst)
        with self.registry.db.read() as tx:
            return load_budget(tx, analyst.account_id)

    def _shape(self, analyst: Principal, q: StatQuery) -> tuple[Shape, Budget]:
        budget = self.budget(analyst)
        shape = check_query(q, self.datasets, analyst.department or "", budget.dataset)
        return shape, budget

    def preview(self, analyst: Principal, q: StatQuery) -> Preview:
        """The error a release of ``epsilon`` would state, or the ε a release stating at
        most ``error`` needs. Spends nothing, writes nothing, reads no client."""
        shape, budget = self._shape(analyst, q)
        remaining = float(budget.epsilon_remaining)
        if q.epsilon is not None:
            planned = self._plan(shape, q.epsilon)
            return Preview(
                q.epsilon, shape.confidence, planned.error, remaining, _warning(q.epsilon)
            )
        assert q.error is not None
        if shape.statistic not in ("count", "histogram", "sum"):
            raise InvalidStatistic(
                f"a {shape.statistic}'s error depends on the private data (a mean's on its "
                "released count, stated with each release), so no epsilon can be derived "
                "from one; preview it with an epsilon",
                field="error",
            )
        epsilon = epsilon_for_error(shape, q.error)
        if epsilon > shape.dataset.max_epsilon_per_release:
            raise InvalidStatistic(
                f"an error of {q.error} needs ε = {epsilon:.6g}, above the cap of "
                f"{shape.dataset.max_epsilon_per_release} per release on {shape.dataset.name}",
                field="error",
            )
        return Preview(epsilon, shape.confidence, q.error, remaining, _warning(epsilon))

    def release(self, analyst: Principal, q: StatQuery) -> Release:
        if q.epsilon is None:
            raise InvalidStatistic("a release spends an epsilon: give epsilon", field="epsilon")
        shape, _ = self._shape(analyst, q)
        planned = self._plan(shape, q.epsilon)
        population = self.population(shape.dataset)
        (released, remaining), (appended,) = self.writer.run(
            self._job(analyst, shape, planned, q.epsilon, population)
        )
        return Release(
            released.value,
            released.error,
            shape.confidence,
            q.epsilon,
            remaining,
            planned.mechanism,
            appended.index,
            _warning(q.epsilon),
        )

    def _job(
        self,
        analyst: Principal,
        shape: Shape,
        planned: Planned,
        epsilon: float,
        population: Population,
    ) -> Callable[[Tx, int], tuple[tuple[Released, float], list[NewEntry]]]:
        eps_text = decimal_text(epsilon)

        def job(tx: Tx, first: int) -> tuple[tuple[Released, float], list[NewEntry]]:
            self._advance(tx, population)
            now = self.clock()
            admitted = population.map_classes(self._admission(analyst, shape, now))
            after = spend(tx, analyst.account_id, amount(eps_text), Fraction(0))
            members = population.members(admitted, shape.columns, now.date(), shape.keys)
            released = run(planned, shape, members)
            remaining = exact_text(after.epsilon_remaining)
            entry = DpRelease(
                analyst.account_id,
                shape.dataset.name,
                shape.statistic,
                tuple(c.name for c in shape.columns),
                tuple(c.name for c in shape.group_by),
                None if shape.quantile is None else decimal_text(shape.quantile),
                planned.mechanism,
                eps_text,
                "0",
                planned.noise_scale,
                _ledger_value(released.value),
                remaining,
            ).entry()
            return (released, float(after.epsilon_remaining)), [entry]

        return job

    def _admission(
        self, analyst: Principal, shape: Shape, now: datetime
    ) -> Callable[[Consent], bool]:
        """Decide each consent class once. The engine reads a consent's level, purposes and
        whether its expiry has passed at ``now``; classes equal in those three share one
        decision."""
        decided: dict[tuple[int, frozenset[str], bool], bool] = {}
        categories = shape.categories

        def admits(consent: Consent) -> bool:
            lapsed = consent.expires_at is not None and consent.expires_at <= now
            key = (consent.level, consent.purposes, lapsed)
            found = decided.get(key)
            if found is None:
                found = self.data.admits_aggregate(analyst, PURPOSE, categories, consent, now)
                decided[key] = found
            return found

        return admits


def _require_analyst(principal: Principal) -> None:
    if principal.role is not Role.ANALYST:
        raise Forbidden(f"statistics are for analysts, not {principal.role.value}s")
