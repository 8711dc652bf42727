"""A mean's stated error: the noise quantile is exact, and the coverage over many releases is
the stated confidence (not far above it), with the mean at the centre and near a bound.

Tolerances as in test_statistics: 6 binomial standard deviations, no seed.
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from privacy.dp import mean
from privacy.dp.mechanisms import plan, run
from privacy.dp.population import key_dtype
from tests.dp.test_statistics import Z, _shape

SAMPLES = 4000
CONFIDENCE = 0.9


def _pmf(scale: float, k: int) -> float:
    t = math.exp(-1 / scale)
    return (1 - t) / (1 + t) * t ** abs(k)


def _brute_coverage(sum_scale: float, count_scale: float, d: float, q: float) -> float:
    """P(|Z_s - d·Z_n| <= q) summed term by term over both noises' values."""
    span = 40 * int(max(sum_scale, count_scale * abs(d), count_scale)) + 40
    k_span = 40 * int(count_scale) + 40
    return sum(
        _pmf(count_scale, k) * _pmf(sum_scale, j)
        for k in range(-k_span, k_span + 1)
        for j in range(-span, span + 1)
        if abs(j - d * k) <= q
    )


@pytest.mark.parametrize(("sum_scale", "count_scale", "d"), [(6.0, 2.0, 0.0), (6.0, 2.0, 2.7)])
def test_the_noise_quantile_is_the_smallest_with_the_confidence(
    sum_scale: float, count_scale: float, d: float
) -> None:
    q = mean.noise_quantile(sum_scale, count_scale, d, CONFIDENCE, 1e9)
    assert q is not None
    assert _brute_coverage(sum_scale, count_scale, d, q) >= CONFIDENCE - 1e-12
    assert _brute_coverage(sum_scale, count_scale, d, q * (1 - 1e-6)) < CONFIDENCE


def test_a_confidence_that_p_of_no_noise_reaches_has_the_error_0() -> None:
    assert mean.noise_quantile(2.0, 1.0, 0.0, 0.01, 1e9) == 0.0


def test_binned_count_noise_raises_the_quantile_by_at_most_d_times_the_bin_width(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exact = mean.noise_quantile(50.0, 300.0, 1.3, CONFIDENCE, 1e12)
    monkeypatch.setattr(mean, "_MAX_BINS", 256)  # bins of 36 values of the count noise
    binned = mean.noise_quantile(50.0, 300.0, 1.3, CONFIDENCE, 1e12)
    assert exact is not None and binned is not None
    # Each bin's window of Z_s is short of every k's by at most |d|·(w - 1).
    assert exact <= binned <= exact + 1.3 * 35


def test_no_mean_without_a_positive_count_and_no_error_as_wide_as_the_bounds() -> None:
    assert mean.estimate((0, 10), 0, 0, (2.0, 20.0), CONFIDENCE) == (None, None)
    assert mean.estimate((0, 10), -3, 40, (2.0, 20.0), CONFIDENCE) == (None, None)
    released, error = mean.estimate((0, 10), 1, 8, (2.0, 20.0), CONFIDENCE)
    assert released == 9.0 and error is None  # 9 ± 9 or more says nothing beyond [0, 10]
    released, error = mean.estimate((0, 10), 1000, 4000, (2.0, 20.0), CONFIDENCE)
    assert released == 7.0 and error is not None and 0 < error < 0.1


def test_count_and_sum_are_one_measurement_at_the_epsilon_split_equally() -> None:
    shape = _shape(statistic="mean", column="dependents", epsilon=1.0)
    planned = plan(shape, 1.0)
    assert float(planned.measurement.map(1)) <= 1.0  # type: ignore[no-untyped-call]
    # Each of ε/2: the count's sensitivity 1, the doubled centred sum's U - L = 10.
    assert dict(planned.scales) == pytest.approx({mean.COUNT: 2.0, mean.SUM: 20.0})
    assert planned.error is None and planned.mechanism == "discrete_laplace"


@pytest.mark.parametrize(
    "values",
    [
        [4, 5, 6, 5] * 10,  # 40 clients, mean 5: the centre of [0, 10]
        [10, 9, 10, 10] * 100,  # 400 clients, mean 9.75: d near U - L, the count's noise weighs
    ],
    ids=["centre", "near-bound"],
)
def test_the_stated_error_covers_at_its_confidence(values: list[int]) -> None:
    shape = _shape(statistic="mean", column="dependents", epsilon=1.0, confidence=CONFIDENCE)
    planned = plan(shape, 1.0)
    frame = pl.DataFrame({"dependents": values})
    true = sum(values) / len(values)
    covered = stated = 0
    for _ in range(SAMPLES):
        released = run(planned, shape, frame)
        if not isinstance(released.error, float):
            continue  # no error stated: too small a noisy count
        assert isinstance(released.value, float)
        stated += 1
        covered += abs(released.value - true) <= released.error
    # W's atoms at ±q may lift the coverage above the confidence: by at most about 0.005
    # here (d near 0 makes W nearly Z_s, whose atoms at ±46, scale 20, weigh 0.0025 each).
    assert stated >= SAMPLES * 0.99
    sigma = math.sqrt(CONFIDENCE * (1 - CONFIDENCE) / stated)
    assert -Z * sigma <= covered / stated - CONFIDENCE <= Z * sigma + 0.005, covered / stated


def test_a_grouped_mean_states_an_error_per_group() -> None:
    shape = _shape(statistic="mean", column="dependents", group_by=("risk_level",), epsilon=1.0)
    planned = plan(shape, 1.0)
    levels = pl.Series("risk_level", ["C1"] * 300 + ["C2"] * 100, dtype=key_dtype(shape.keys[0]))
    frame = pl.DataFrame({"dependents": [5] * 400}).with_columns(levels)
    released = run(planned, shape, frame)
    assert isinstance(released.value, dict) and isinstance(released.error, dict)
    assert released.value.keys() == released.error.keys() == {"C1", "C2", "C3", "C4", "C5"}
    c1, c2 = released.error["C1"], released.error["C2"]
    assert c1 is not None and c2 is not None and c1 < c2  # more clients, a smaller error
