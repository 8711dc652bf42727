"""Differentially private releases: latency through Custos against OpenDP alone, and the
observed error against the stated one.

    .venv/bin/python bench/dp.py [--quick]

For 100k and 1M clients (``--quick``: 100k only, fewer repetitions) in a fresh SQLite
database, one analyst releases each statistic through ``StatsService.release``: the
population advanced over the ledger, membership decided per consent class, the budget
checked and spent, OpenDP's measurement applied, the ``dp_release`` entry appended and
committed. The population is synthetic and columnar (built in memory, as a snapshot read
from the vault would be), so the run measures releases, not vault decryption.

The baseline is OpenDP alone on the same in-memory rows: the same measurement (built once
per query shape with ``make_private_lazyframe``) applied to the members' frame. The
overhead ratio is Custos' median over OpenDP's median.

The error check applies each measurement that states an error 2000 times to 1000 rows:
"stated" is the median stated error (a mean states its own per release and group),
"observed" the ``confidence`` quantile of |released - true|, "ratio" the ``confidence``
quantile of |released - true| over the bound it is held to (1 is the limit; for an integer
statistic the bound is ⌊error⌋, since its noise is an integer), "coverage" the share of
releases (groups) within their stated error, against the stated confidence.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.settings import api_settings  # noqa: E402
from api.state import build_services  # noqa: E402
from consent_ledger.consent import Consent  # noqa: E402
from consent_ledger.settings import ledger_settings  # noqa: E402
from privacy.dp import StatQuery  # noqa: E402
from privacy.dp.analysts import create_analyst  # noqa: E402
from privacy.dp.mechanisms import Released, Value, plan, run  # noqa: E402
from privacy.dp.population import Population  # noqa: E402
from privacy.dp.query import Shape, check_query  # noqa: E402

QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("count", {"statistic": "count"}),
    ("sum aum", {"statistic": "sum", "column": "assets_under_management"}),
    ("mean aum", {"statistic": "mean", "column": "assets_under_management"}),
    ("histogram risk_level", {"statistic": "histogram", "column": "risk_level"}),
    ("median income", {"statistic": "quantile", "column": "household_income", "quantile": 0.5}),
    (
        "mean aum by age_band",
        {"statistic": "mean", "column": "assets_under_management", "group_by": ("age_band",)},
    ),
]
EPSILON = 0.5
CONFIDENCE = 0.95


def _values(rng: random.Random) -> dict[str, Any]:
    born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 24_000))
    return {
        "user.demographic.date_of_birth": born.isoformat(),
        "user.financial.assets_under_management": int(rng.lognormvariate(14, 1.2)),
        "user.financial.investment_experience": rng.choice(["none", "basic", "experienced"]),
        "user.financial.risk_questionnaire": [rng.randint(1, 5) for _ in range(10)],
        "user.financial.risk_level": rng.choice(["C1", "C2", "C3", "C4", "C5"]),
        "user.demographic.marital_status": rng.choice(["single", "married", "divorced"]),
        "user.demographic.dependents": rng.randint(0, 4),
        "user.financial.household_income": rng.randint(8, 400) * 10_000,
        "user.financial.liabilities": rng.randint(0, 300) * 10_000,
    }


def _population(services: Any, n: int) -> Population:
    """``n`` synthetic clients in a handful of consent classes (as real consents fall)."""
    rng = random.Random(12)
    now = services.clock()
    dataset = services.stats.datasets.datasets["clients"]
    classes = [
        Consent(f"c_{k:016x}", level, frozenset(purposes), now, None)
        for k, (level, purposes) in enumerate(
            [
                (4, {"kyc", "research_analytics"}),
                (2, {"kyc", "research_analytics"}),
                (4, {"kyc"}),
                (3, {"kyc", "research_analytics", "marketing"}),
            ]
        )
    ]
    rows = []
    for i in range(n):
        template = classes[i % len(classes)]
        consent = Consent(f"c_{i:016x}", template.level, template.purposes, now, None)
        rows.append((consent.client_id, (consent, _values(rng))))
    with services.custos.db.read() as tx:
        (size,) = tx.one("SELECT COUNT(*) FROM ledger_entries")
    population = Population(dataset, 0)
    population.update(rows, int(size))
    return population


def _shape(services: Any, query: dict[str, Any], epsilon: float) -> Shape:
    q = StatQuery("clients", epsilon=epsilon, confidence=CONFIDENCE, **query)
    return check_query(q, services.stats.datasets, "research", "clients")


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _admitted(services: Any, analyst: Any, population: Population, shape: Shape) -> list[int]:
    """The consent classes a release of this shape reads (as the service decides them)."""
    now = services.clock()
    return population.map_classes(
        lambda c: services.data.admits_aggregate(
            analyst, "research_analytics", shape.categories, c, now
        )
    )


def _latency(services: Any, analyst: Any, population: Population, reps: int) -> None:
    today = services.clock().date()
    print(f"-- {len(population):,} clients; ε = {EPSILON} per release; {reps} releases each")
    print(f"{'statistic':<24}{'custos ms':>12}{'opendp ms':>12}{'overhead':>10}")
    for name, query in QUERIES:
        q = StatQuery("clients", epsilon=EPSILON, confidence=CONFIDENCE, **query)
        services.stats.release(analyst, q)  # warm: the first call loads polars plans
        shape = _shape(services, query, EPSILON)
        planned = plan(shape, EPSILON)
        frame = population.members(
            _admitted(services, analyst, population, shape), shape.columns, today, shape.keys
        )
        planned.measurement(frame.lazy()).collect()
        custos, direct = [], []
        # Interleaved, so a load from elsewhere on the machine weighs on both alike.
        for _ in range(reps):
            start = time.perf_counter()
            services.stats.release(analyst, q)
            custos.append(time.perf_counter() - start)
            start = time.perf_counter()
            planned.measurement(frame.lazy()).collect()
            direct.append(time.perf_counter() - start)
        c, d = _median_ms(custos), _median_ms(direct)
        print(f"{name:<24}{c:>12.1f}{d:>12.1f}{c / d:>9.2f}x", flush=True)


def _deviations(released: Released, true: Value, integer: bool) -> list[tuple[float, float, float]]:
    """(|released - true|, the stated error, the bound it is held to) for each group with a
    stated error. An integer's deviation is within the error exactly when it is within
    ⌊error⌋."""
    values = released.value if isinstance(released.value, dict) else {"": released.value}
    truths = true if isinstance(true, dict) else {"": true}
    errors = (
        released.error
        if isinstance(released.error, dict)
        else dict.fromkeys(values, released.error)
    )
    out = []
    for group, value in values.items():
        error, exact = errors[group], truths[group]
        if error is None or value is None or exact is None:
            continue
        out.append((abs(value - exact), error, math.floor(error) if integer else error))
    return out


def _errors(services: Any, population: Population, samples: int) -> None:
    print(f"-- stated vs observed error at confidence {CONFIDENCE}, {samples} releases each")
    print(f"{'statistic':<24}{'stated':>14}{'observed':>14}{'ratio':>8}{'coverage':>10}")
    today = services.clock().date()
    everyone = list(population.classes())
    for name, query in QUERIES:
        shape = _shape(services, query, EPSILON)
        if shape.statistic == "quantile":
            continue  # it states no error
        planned = plan(shape, EPSILON)
        frame = population.members(everyone, shape.columns, today, shape.keys).head(1000)
        # At this ε the noise is 0 but with probability below 1e-10.
        true = run(plan(shape, 1e9), shape, frame).value
        integer = shape.statistic != "mean"
        found = [
            x
            for _ in range(samples)
            for x in _deviations(run(planned, shape, frame), true, integer)
        ]
        deviations = sorted(d for d, _, _ in found)
        ratios = sorted(d / b for d, _, b in found)
        at = int(CONFIDENCE * len(found))
        stated = statistics.median(e for _, e, _ in found)
        covered = sum(d <= b for d, _, b in found) / len(found)
        print(
            f"{name:<24}{stated:>14.1f}{deviations[at]:>14.1f}{ratios[at]:>8.3f}{covered:>10.3f}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="100k clients only, fewer runs")
    args = parser.parse_args()
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    reps = 5 if args.quick else 15
    with tempfile.TemporaryDirectory() as tmp:
        settings = api_settings(
            ledger=ledger_settings(
                database_url=f"sqlite:///{tmp}/bench.db", data_dir=Path(tmp) / "keys"
            )
        )
        services = build_services(settings, lambda: datetime.now(UTC))
        try:
            issued = create_analyst(
                services.accounts,
                services.stats.datasets,
                "bench",
                "research",
                "clients",
                1e6,
                0.0,
                services.clock(),
            )
            analyst = services.accounts.authenticate(issued.key)
            for n in sizes:
                start = time.perf_counter()
                population = _population(services, n)
                services.stats.adopt(population)
                print(f"(built {n:,} synthetic rows in {time.perf_counter() - start:.1f} s)")
                _latency(services, analyst, population, reps)
            _errors(services, population, 500 if args.quick else 2000)
        finally:
            services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
