"""A reproducible synthetic client population for demos and benchmarks.

Every choice comes from one seeded generator and every timestamp from a simulated clock,
so the same seed, size and ``as_of`` give byte-identical ledger entries (and so the same
Merkle root); only the random vault keys and nonces differ between runs.

Departments act through the same services as the live API: one seeded app account per
department asks the decision service, collects and reads through ``DataAccess``, so the demo
ledger holds exactly the entry shapes production writes.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from consent_ledger.accounts import AccountStore
from consent_ledger.catalogue import Catalogue
from consent_ledger.principals import Principal, Role
from consent_ledger.runtime import Custos
from consent_ledger.writer import BatchWriter
from custos_errors import CustosError
from policies.access import DataAccess
from policies.books import assign_book
from policies.holder import PolicyHolder
from policies.loader import DEFAULT_POLICY_PATH
from policies.population import client_record, draw_book
from policies.redemption import Channel, blocking_obligation
from policies.service import DecisionAsk, DecisionLog

__all__ = ["SeedSummary", "SimulatedClock", "seed_population"]

_DEPARTMENTS = ["advisory", "risk", "research", "compliance"]
# Decisions live only minutes; the seed reads right after it decides.
_TTL = timedelta(minutes=5)
_PURPOSE_USE = {
    "advisory": ["investment_advice", "suitability"],
    "risk": ["risk_monitoring"],
    "research": ["research_analytics"],
    "compliance": ["kyc"],
}


@dataclass
class SimulatedClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class SeedSummary:
    clients: list[str] = field(default_factory=list)
    erased: list[str] = field(default_factory=list)
    events: int = 0


def _purposes(rng: random.Random) -> list[str]:
    chosen = ["kyc", "suitability", "investment_advice"]
    for purpose, p in (
        ("risk_monitoring", 0.7),
        ("research_analytics", 0.6),
        ("model_training", 0.5),
        ("marketing", 0.3),
    ):
        if rng.random() < p:
            chosen.append(purpose)
    return chosen


Step = Callable[[], object]


def seed_population(
    custos: Custos,
    clock: SimulatedClock,
    *,
    clients: int,
    seed: int = 7,
    as_of: datetime | None = None,
    days: int = 365,
    policy_path: Path = DEFAULT_POLICY_PATH,
) -> SeedSummary:
    """Simulate ``days`` of client life ending at ``as_of``: onboarding, consents, changes,
    revocations, data use by departments, expiries and one erasure. ``custos``'s ledger
    must run on ``clock``."""
    rng = random.Random(seed)
    end = as_of or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    clock.now = end - timedelta(days=days)
    writer = BatchWriter(custos.ledger)
    try:
        return _simulate(custos, clock, writer, rng, clients, end, days, policy_path)
    finally:
        writer.close()


def _simulate(
    custos: Custos,
    clock: SimulatedClock,
    writer: BatchWriter,
    rng: random.Random,
    clients: int,
    end: datetime,
    days: int,
    policy_path: Path,
) -> SeedSummary:
    registry = custos.registry
    policy = PolicyHolder(policy_path, custos.catalogue, custos.ledger)
    decisions = DecisionLog(
        registry, policy, writer, clock, _TTL, new_id=lambda: f"{rng.getrandbits(128):032x}"
    )
    data = DataAccess(decisions, registry, writer, clock)
    accounts = AccountStore(
        custos.ledger, frozenset(policy.current.cells), new_id=lambda: f"{rng.getrandbits(64):016x}"
    )
    apps = {
        dept: Principal(
            accounts.create_app(dept, f"seed {dept} app", clock.now).account_id,
            Role.APP,
            f"seed {dept} app",
            dept,
        )
        for dept in _DEPARTMENTS
    }
    start = end - timedelta(days=days)
    catalogue: Catalogue = registry.catalogue
    summary = SeedSummary()
    queue: list[tuple[datetime, int, Step]] = []
    order = 0

    def at(t: datetime, step: Step) -> None:
        nonlocal order
        order += 1
        heapq.heappush(queue, (t, order, step))

    def lifecycle(n: int) -> None:
        cid = f"c_{rng.getrandbits(64):016x}"
        joined = start + timedelta(seconds=rng.uniform(0, days * 86400 * 0.8))
        level = rng.choices([1, 2, 3, 4], weights=[20, 40, 25, 15])[0]
        expires = (
            joined + timedelta(days=rng.choice([90, 180, 365, 730])) if rng.random() < 0.4 else None
        )
        # Each client's record sits in one department's book (policies/population.py); its
        # values come from a generator seeded off the main stream.
        book = draw_book(rng)
        profile = client_record(random.Random(rng.getrandbits(64)), book, end.date())
        summary.clients.append(cid)

        def onboard() -> None:
            # The KYC desk records the consent, then collects what it covers, for KYC.
            registry.register_client(cid)
            assign_book(custos.db, cid, book)
            registry.grant(cid, level, _purposes(rng), expires)
            data.collect(
                apps["compliance"],
                cid,
                "kyc",
                {k: v for k, v in profile.items() if catalogue.category(k).level <= level},
            )

        at(joined, onboard)
        t = joined
        for _ in range(rng.randint(2, 8)):
            t += timedelta(hours=rng.uniform(1, 24 * 40))
            if t >= end:
                break
            dept = rng.choice(_DEPARTMENTS)
            purpose = rng.choice(_PURPOSE_USE[dept])
            wanted = rng.choice(catalogue.categories)

            def use(dept: str = dept, purpose: str = purpose, category: str = wanted.key) -> None:
                app = apps[dept]
                access = "aggregate" if purpose == "research_analytics" else "row"
                (made,) = decisions.decide(app, [DecisionAsk(cid, purpose, (category,), access)])
                d = made.decision
                # A row allow is read at once; research's aggregate allows wait for the DP layer.
                if (
                    d.allowed
                    and blocking_obligation(d.obligations, access, Channel.DATA_API) is None
                ):
                    data.read(app, made.decision_id, cid)

            at(t, use)
        roll = rng.random()
        change_at = t + timedelta(days=rng.uniform(1, 30))
        if change_at < end:
            if roll < 0.25 and level < 4:
                new_level = level + 1

                def upgrade(new_level: int = new_level) -> None:
                    registry.change_level(cid, new_level)
                    data.collect(
                        apps["advisory"],
                        cid,
                        "suitability",
                        {
                            k: v
                            for k, v in profile.items()
                            if catalogue.category(k).level == new_level
                        },
                    )

                at(change_at, upgrade)
            elif roll < 0.35 and level > 1:
                at(change_at, lambda: registry.change_level(cid, level - 1))
            elif roll < 0.45:
                at(change_at, lambda: registry.revoke(cid, ["marketing"]))
            elif roll < 0.5:
                at(change_at, lambda: registry.revoke(cid))

    for n in range(clients):
        lifecycle(n)
    if summary.clients:
        victim = summary.clients[rng.randrange(len(summary.clients))]
        summary.erased.append(victim)
        at(end - timedelta(hours=1), lambda: registry.erase(victim))

    while queue:
        t, _, step = heapq.heappop(queue)
        clock.now = t
        try:
            step()
            summary.events += 1
        except CustosError:
            # A step can meet a state an earlier step changed (a revoked or expired consent,
            # an erased client); real clients meet the same refusals, so the step is dropped.
            continue
    clock.now = end
    registry.expire_due()
    return summary
