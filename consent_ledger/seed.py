"""A reproducible synthetic client population for demos and benchmarks.

Every choice comes from one seeded generator and every timestamp from a simulated clock,
so the same seed, size and ``as_of`` give byte-identical ledger entries (and so the same
Merkle root); only the random vault keys and nonces differ between runs.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from consent_ledger.catalogue import Catalogue
from consent_ledger.errors import CustosError
from consent_ledger.registry import ConsentRegistry

__all__ = ["SeedSummary", "SimulatedClock", "seed_population"]

_SURNAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Müller", "Smith", "García", "Okafor", "Sato"]
_GIVEN = ["Wei", "Fang", "Jun", "Mei", "Anna", "James", "Lucía", "Chidi", "Yuki", "Lars"]
_DEPARTMENTS = ["advisory", "risk", "research", "compliance"]
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


def _profile(rng: random.Random, level: int) -> dict[str, Any]:
    """Plausible personal values for the categories up to ``level``."""
    given, surname = rng.choice(_GIVEN), rng.choice(_SURNAMES)
    values: dict[str, Any] = {
        "user.name": f"{given} {surname}",
        "user.contact.email": f"{given.lower()}.{surname.lower()}{rng.randint(1, 99)}@example.com",
        "user.contact.phone_number": f"+86 1{rng.randint(30, 99)} {rng.randint(1000, 9999)} "
        f"{rng.randint(1000, 9999)}",
        "user.government_id": f"{rng.randint(110000, 659999)}{rng.randint(19500101, 20051231)}"
        f"{rng.randint(1000, 9999)}",
    }
    if level >= 2:
        aum = round(rng.lognormvariate(14, 1.2), -3)
        values |= {
            "user.financial.assets_under_management": int(aum),
            "user.financial.investment_experience": rng.choice(["none", "basic", "experienced"]),
            "user.financial.risk_questionnaire": [rng.randint(1, 5) for _ in range(10)],
        }
    if level >= 3:
        values |= {
            "user.demographic.marital_status": rng.choice(["single", "married", "divorced"]),
            "user.demographic.dependents": rng.randint(0, 4),
        }
    if level >= 4:
        values |= {
            "user.financial.household_income": rng.randint(8, 400) * 10_000,
            "user.financial.liabilities": rng.randint(0, 300) * 10_000,
        }
    return values


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
    registry: ConsentRegistry,
    clock: SimulatedClock,
    *,
    clients: int,
    seed: int = 7,
    as_of: datetime | None = None,
    days: int = 365,
) -> SeedSummary:
    """Simulate ``days`` of client life ending at ``as_of``: onboarding, consents, changes,
    revocations, data use by departments, expiries and one erasure."""
    rng = random.Random(seed)
    end = as_of or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
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
        profile = _profile(rng, 4)
        summary.clients.append(cid)

        def onboard() -> None:
            registry.register_client(cid)
            registry.collect(
                cid,
                {k: v for k, v in profile.items() if catalogue.category(k).level <= level},
                by="compliance",
            )
            registry.grant(cid, level, _purposes(rng), expires)

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
                current = registry.current(cid)
                allowed = current is not None and current.covers(
                    catalogue.category(category).level, purpose, clock.now
                )
                registry.record_use(
                    cid, category=category, purpose=purpose, allowed=allowed, by=dept
                )

            at(t, use)
        roll = rng.random()
        change_at = t + timedelta(days=rng.uniform(1, 30))
        if change_at < end:
            if roll < 0.25 and level < 4:
                new_level = level + 1

                def upgrade(new_level: int = new_level) -> None:
                    registry.change_level(cid, new_level)
                    registry.collect(
                        cid,
                        {
                            k: v
                            for k, v in profile.items()
                            if catalogue.category(k).level == new_level
                        },
                        by="advisory",
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
