"""Random but reproducible decision workloads, shared by the Cedar cross-check and the benchmark.

The mix is skewed towards requests the policy can allow, so that every branch of ``decide``
(forbids, no permit, scope, each consent failure, proofs, allows) shows up in a few thousand
requests; consents cover none, withdrawn, expired (including expiring exactly now), every
level and random purpose sets.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from consent_ledger.consent import Consent
from policies.compiled import CompiledPolicy
from policies.decision import Access, App, Context, Request, Resource

__all__ = ["STAGES", "Workload", "random_workload"]

STAGES = (None, None, None, "qualified_investor_check", "onboarding")
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Workload:
    requests: tuple[Request, ...]
    consents: Mapping[str, Consent | None]
    apps: tuple[App, ...]


def random_workload(
    compiled: CompiledPolicy,
    n: int,
    *,
    seed: int = 0,
    clients: int = 500,
    max_categories: int = 1,
    now: datetime = NOW,
) -> Workload:
    # Reproducibility, not secrecy, is what a workload needs from its generator.
    rng = random.Random(seed)  # noqa: S311
    purposes = sorted(compiled.catalogue.purpose_map)
    categories = [c.key for c in compiled.catalogue.categories]
    consents = {f"c{i:05d}": _consent(rng, f"c{i:05d}", purposes, now) for i in range(clients)}
    apps = tuple(App(f"{d}-app-{k}", d) for d in sorted(compiled.cells) for k in range(2))
    client_ids = sorted(consents)
    proof_rules = frozenset(r.id for r in compiled.policy.document.proofs)
    requests = []
    for _ in range(n):
        app = rng.choice(apps)
        row = compiled.cells[app.department]
        permitted = [p for p in purposes if row[p][categories[0]].permit_id is not None]
        purpose = rng.choice(permitted if rng.random() < 0.75 else purposes)
        in_scope = [c for c in categories if row[purpose][c].in_scope] or categories
        pool = in_scope if rng.random() < 0.8 else categories
        count = rng.randint(1, min(max_categories, len(pool)))
        access: Access = "row" if rng.random() < 0.7 else "aggregate"
        stage = rng.choice(STAGES)
        proven = proof_rules if rng.random() < 0.5 else frozenset()
        context = Context(now, access, stage, proven)
        resource = Resource(rng.choice(client_ids), tuple(rng.sample(pool, count)))
        requests.append(Request(app, purpose, resource, context))
    return Workload(tuple(requests), consents, apps)


def _consent(
    rng: random.Random, client_id: str, purposes: list[str], now: datetime
) -> Consent | None:
    roll = rng.random()
    if roll < 0.12:
        return None  # never granted, or withdrawn
    chosen = frozenset(p for p in purposes if rng.random() < 0.6) or frozenset(
        {rng.choice(purposes)}
    )
    granted = now - timedelta(days=rng.randint(1, 900))
    if roll < 0.20:
        expires: datetime | None = now - timedelta(seconds=rng.randint(1, 10**7))
    elif roll < 0.23:
        expires = now  # expiry at exactly `now` is already expired
    elif roll < 0.60:
        expires = now + timedelta(seconds=rng.randint(1, 10**8))
    else:
        expires = None
    return Consent(client_id, rng.randint(1, 4), chosen, granted, expires)
