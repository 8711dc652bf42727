"""The noise is the mechanism's stated scale, the stated error holds at its confidence and
no more than the integer noise forces, and neighbouring datasets give outputs within e^ε.

Many releases of OpenDP's measurement (as ``privacy.dp`` plans and runs it) on fixed data.
Every tolerance is 6 binomial standard deviations: a correct implementation fails one
check with probability below 2e-9, any of the ~50 below 1e-7. No seed is set.
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from consent_ledger.catalogue import load_catalogue
from policies.datasets import DEFAULT_DATASETS_PATH, load_datasets
from privacy.dp.mechanisms import plan, run
from privacy.dp.population import key_dtype
from privacy.dp.query import Shape, StatQuery, check_query

Z = 6.0
SAMPLES = 4000
DATASETS = load_datasets(DEFAULT_DATASETS_PATH, load_catalogue(), {"research"})


def _shape(**kw: object) -> Shape:
    return check_query(StatQuery("clients", **kw), DATASETS, "research", "clients")  # type: ignore[arg-type]


def _tail(scale: float, k: int) -> float:
    """P(|Z| ≥ k) for integer Laplace noise of this scale (k ≥ 1)."""
    t = math.exp(-1 / scale)
    return 2 * t**k / (1 + t)


def _close(observed: int, n: int, p: float) -> bool:
    return abs(observed / n - p) <= Z * math.sqrt(p * (1 - p) / n) + 1 / n


def _noise(shape: Shape, epsilon: float, frame: pl.DataFrame, true: int) -> list[int]:
    planned = plan(shape, epsilon)
    out = []
    for _ in range(SAMPLES):
        value = run(planned, shape, frame).value
        assert isinstance(value, int)
        out.append(value - true)
    return out


@pytest.mark.parametrize(
    ("query", "epsilon", "scale", "frame", "true"),
    [
        ({"statistic": "count"}, 0.5, 2.0, pl.DataFrame({"member": [True] * 20}), 20),
        (
            {"statistic": "sum", "column": "dependents"},
            1.0,
            10.0,  # the sum's sensitivity is its bound, 10, over ε = 1
            pl.DataFrame({"dependents": [3, 12, 0, 7]}),  # 12 is clipped to 10: true 20
            20,
        ),
    ],
    ids=["count", "sum"],
)
def test_noise_has_the_stated_scale_and_the_error_its_confidence(
    query: dict[str, object], epsilon: float, scale: float, frame: pl.DataFrame, true: int
) -> None:
    shape = _shape(epsilon=epsilon, confidence=0.9, **query)
    planned = plan(shape, epsilon)
    ((_, stated_scale),) = planned.scales
    assert stated_scale == pytest.approx(scale, rel=1e-9)
    noise = _noise(shape, epsilon, frame, true)
    for k in (1, 2, 4, 8, 16):
        assert _close(sum(abs(z) >= k for z in noise), SAMPLES, _tail(scale, k)), k
    # The stated error is the smallest integer bound with coverage ≥ 0.9: not inflated.
    assert planned.error is not None
    bound = math.floor(planned.error)
    coverage = 1 - _tail(scale, bound + 1)
    assert coverage >= 0.9 > 1 - _tail(scale, bound)
    assert _close(sum(abs(z) <= planned.error for z in noise), SAMPLES, coverage)


def test_grouped_counts_state_one_error_per_group() -> None:
    shape = _shape(statistic="histogram", column="risk_level", epsilon=1.0, confidence=0.8)
    planned = plan(shape, 1.0)
    assert planned.error is not None
    levels = pl.Series("risk_level", ["C1"] * 5 + ["C2"] * 3, dtype=key_dtype(shape.keys[0]))
    frame = levels.to_frame()
    true = {"C1": 5, "C2": 3, "C3": 0, "C4": 0, "C5": 0}
    covered = dict.fromkeys(true, 0)
    n = SAMPLES // 4
    for _ in range(n):
        value = run(planned, shape, frame).value
        assert isinstance(value, dict) and value.keys() == true.keys()
        for group, v in value.items():
            assert isinstance(v, int)
            covered[group] += abs(v - true[group]) <= planned.error
    ((_, scale),) = planned.scales
    coverage = 1 - _tail(scale, math.floor(planned.error) + 1)
    assert all(_close(c, n, coverage) for c in covered.values()), covered


def test_neighbouring_datasets_give_outputs_within_e_to_the_epsilon() -> None:
    """One client added: for every threshold t, P(out ≤ t) on either dataset is at most
    e^ε times the other's (up to sampling error)."""
    epsilon = 0.5
    shape = _shape(statistic="count", epsilon=epsilon)
    planned = plan(shape, epsilon)
    d = [run(planned, shape, pl.DataFrame({"member": [True] * 20})).value for _ in range(SAMPLES)]
    d2 = [run(planned, shape, pl.DataFrame({"member": [True] * 21})).value for _ in range(SAMPLES)]
    bound = math.exp(epsilon)
    for t in range(14, 28):
        p = sum(v <= t for v in d) / SAMPLES  # type: ignore[operator]
        q = sum(v <= t for v in d2) / SAMPLES  # type: ignore[operator]
        slack = Z * (math.sqrt(p * (1 - p) / SAMPLES) + bound * math.sqrt(q * (1 - q) / SAMPLES))
        assert p <= bound * q + slack + 2 / SAMPLES, t
        assert q <= bound * p + slack + 2 / SAMPLES, t
