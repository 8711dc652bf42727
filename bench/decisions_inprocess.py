"""In-process decision latency: our engine against cedarpy and a bare dict-lookup floor.

    .venv/bin/python bench/decisions_inprocess.py [--n 20000] [--cedar-calls 3000]

One random workload of single-category requests over random consents (policies.workload)
is decided by: a nested-dict lookup (the floor any Python engine pays), ``policies.decide``,
cedarpy's ``is_authorized`` one call per decision, and ``is_authorized_batch`` in batches of
100, both with the policies and entities parsed once. Per-decision latencies are taken with
``time.perf_counter_ns`` around each call (the timer's own cost is printed); decisions/s
come from an untimed loop. The script fails if Cedar and our engine disagree on any
request's allow/deny.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import cedarpy

from consent_ledger.catalogue import load_catalogue
from consent_ledger.consent import Consent
from policies import (
    DEFAULT_POLICY_PATH,
    CompiledPolicy,
    Request,
    compile_policy,
    decide,
    load_policy,
)
from policies.cedar import cedar_entities, cedar_policies, cedar_requests
from policies.engine import consent_summary
from policies.workload import random_workload

_PC = time.perf_counter_ns


def _percentile(sorted_ns: Sequence[float], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


def _timed(calls: Sequence[Callable[[], object]]) -> tuple[float, float, float]:
    """(p50 µs, p99 µs, calls/s): latencies per call, throughput from an untimed loop."""
    lat = []
    for call in calls:
        t0 = _PC()
        call()
        lat.append(_PC() - t0)
    lat.sort()
    t0 = _PC()
    for call in calls:
        call()
    rate = len(calls) / ((_PC() - t0) / 1e9)
    return _percentile(lat, 0.50), _percentile(lat, 0.99), rate


def _timer_overhead() -> float:
    lat = []
    for _ in range(100_000):
        t0 = _PC()
        lat.append(_PC() - t0)
    lat.sort()
    return _percentile(lat, 0.50)


def _floor_table(compiled: CompiledPolicy) -> dict[str, dict[str, dict[str, bool]]]:
    """Nested dicts (department → purpose → category → permitted) for the lookup floor."""
    return {
        d: {p: {c: cell.in_scope for c, cell in cells.items()} for p, cells in row.items()}
        for d, row in compiled.cells.items()
    }


def _lookup(
    floor: dict[str, dict[str, dict[str, bool]]], dept: str, purpose: str, category: str
) -> Callable[[], bool]:
    """One nested lookup per call, in a closure like the other engines' calls."""
    return lambda: floor[dept][purpose][category]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=20_000, help="requests in the workload")
    parser.add_argument("--cedar-calls", type=int, default=3_000, help="single is_authorized calls")
    parser.add_argument("--batch", type=int, default=100, help="requests per is_authorized_batch")
    parser.add_argument("--clients", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    catalogue = load_catalogue()
    compiled = compile_policy(load_policy(DEFAULT_POLICY_PATH, catalogue), catalogue)
    work = random_workload(compiled, args.n, seed=args.seed, clients=args.clients)
    pairs: list[tuple[Consent | None, Request]] = [
        (work.consents[r.resource.client_id], r) for r in work.requests
    ]
    policies = cedarpy.PolicySet.from_str(cedar_policies(compiled))
    entities = cedarpy.Entities.from_json_str(
        json.dumps(cedar_entities(compiled, work.consents, work.apps))
    )
    cedar_reqs: list[dict[str, Any]] = [cedar_requests(r)[0] for r in work.requests]

    # Warm up every path once, then start ours with an empty consent-summary cache so the
    # run pays the misses a real stream of requests would.
    for consent, request in pairs[:1000]:
        decide(compiled, consent, request)
    cedarpy.is_authorized_batch(cedar_reqs[:100], policies, entities)
    consent_summary.cache_clear()

    ours = [decide(compiled, c, r) for c, r in pairs]
    cedar_allowed: list[bool] = []
    for start in range(0, len(cedar_reqs), args.batch):
        chunk = cedar_reqs[start : start + args.batch]
        cedar_allowed += [
            res.allowed for res in cedarpy.is_authorized_batch(chunk, policies, entities)
        ]
    disagreements = sum(d.allowed != a for d, a in zip(ours, cedar_allowed, strict=True))

    consent_summary.cache_clear()
    floor = _floor_table(compiled)
    keys = [(r.principal.department, r.action, r.resource.categories[0]) for r in work.requests]
    rows = {
        "lookup floor (nested dicts)": _timed([_lookup(floor, *key) for key in keys]),
        "custos decide": _timed([partial(decide, compiled, c, r) for c, r in pairs]),
        "cedarpy is_authorized (per call)": _timed(
            [
                partial(cedarpy.is_authorized, q, policies, entities)
                for q in cedar_reqs[: args.cedar_calls]
            ]
        ),
    }
    batches = [cedar_reqs[i : i + args.batch] for i in range(0, len(cedar_reqs), args.batch)]
    p50, p99, rate = _timed(
        [partial(cedarpy.is_authorized_batch, b, policies, entities) for b in batches]
    )
    size = args.batch
    rows[f"cedarpy is_authorized_batch /{size}"] = (p50 / size, p99 / size, rate * size)

    _report(args, work.requests, ours, rows, disagreements)
    return 1 if disagreements else 0


def _report(
    args: argparse.Namespace,
    requests: Sequence[Request],
    ours: Sequence[Any],
    rows: dict[str, tuple[float, float, float]],
    disagreements: int,
) -> None:
    outcomes = Counter(d.outcome.value for d in ours)
    mix = ", ".join(f"{k} {v / len(ours):.1%}" for k, v in sorted(outcomes.items()))
    print(
        f"workload: {len(requests):,} single-category requests over {args.clients:,} random "
        f"consents (seed {args.seed}); {mix}"
    )
    print(f"timer overhead (perf_counter_ns pair), p50: {_timer_overhead():.2f} µs\n")
    print(f"{'engine':36} {'p50 µs':>9} {'p99 µs':>9} {'decisions/s':>13}")
    for name, (p50, p99, rate) in rows.items():
        print(f"{name:36} {p50:9.2f} {p99:9.2f} {rate:13,.0f}")
    ours_p50 = rows["custos decide"][0]
    batch_p50 = rows[f"cedarpy is_authorized_batch /{args.batch}"][0]
    single_p50 = rows["cedarpy is_authorized (per call)"][0]
    print(
        f"\nratios (p50): cedar batch / ours = {batch_p50 / ours_p50:.1f}x, "
        f"cedar per call / ours = {single_p50 / ours_p50:.1f}x, "
        f"ours / floor = {ours_p50 / rows['lookup floor (nested dicts)'][0]:.1f}x"
    )
    agreed = len(ours) - disagreements
    print(f"allow/deny agreement with Cedar: {agreed:,}/{len(ours):,}")
    if disagreements:
        print("FAIL: Cedar and custos disagree", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
