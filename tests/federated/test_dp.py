"""The RDP accountant of the departments' DP-SGD."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federated.dp import ORDERS, DpPlan, calibrate_noise, epsilon, rdp_sampled_gaussian
from federated.errors import InvalidTrainingSettings


def _log_a_by_integration(q: float, sigma: float, alpha: int) -> float:
    """E over z ~ N(0, sigma^2) of ((1 - q) + q exp((2z - 1) / (2 sigma^2)))^alpha, by the
    trapezoid rule: the defining integral, independent of the closed-form sum."""
    z = np.linspace(-30 * sigma, 30 * sigma, 400_001)
    density = np.exp(-(z**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    ratio = (1 - q) + q * np.exp((2 * z - 1) / (2 * sigma**2))
    return math.log(float(np.trapezoid(density * ratio**alpha, z)))


@pytest.mark.parametrize(("q", "sigma"), [(0.01, 1.0), (0.05, 0.8), (0.2, 2.0)])
def test_sampled_gaussian_rdp_matches_its_integral(q: float, sigma: float) -> None:
    rdp = rdp_sampled_gaussian(q, sigma, steps=1)
    for alpha in (2, 3, 8, 12):
        expected = _log_a_by_integration(q, sigma, alpha) / (alpha - 1)
        assert rdp[ORDERS.index(alpha)] == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_full_batch_is_the_gaussian_mechanism() -> None:
    """q = 1: RDP alpha / (2 sigma^2) per step, composing linearly."""
    rdp = rdp_sampled_gaussian(1.0, 2.0, steps=10)
    for alpha, r in zip(ORDERS, rdp, strict=True):
        assert r == pytest.approx(10 * alpha / 8)


@settings(deadline=None, max_examples=30)
@given(
    q=st.floats(0.001, 0.5),
    sigma=st.floats(0.5, 5.0),
    steps=st.integers(1, 500),
)
def test_more_steps_or_less_noise_cost_more(q: float, sigma: float, steps: int) -> None:
    delta = 1e-5
    base = epsilon(rdp_sampled_gaussian(q, sigma, steps), delta)
    assert epsilon(rdp_sampled_gaussian(q, sigma, steps + 10), delta) >= base
    assert epsilon(rdp_sampled_gaussian(q, sigma * 1.1, steps), delta) <= base
    assert base >= 0


def test_calibration_meets_the_target_tightly() -> None:
    q, steps, target = 128 / 4000, 20 * 31, 8.0
    sigma = calibrate_noise(q, steps, target, 1e-5)
    assert epsilon(rdp_sampled_gaussian(q, sigma, steps), 1e-5) <= target
    assert epsilon(rdp_sampled_gaussian(q, sigma * 0.99, steps), 1e-5) > target * 0.98


def test_a_plan_spends_at_most_its_budget_by_the_last_round() -> None:
    plan = DpPlan.calibrated(2500, 128, 3.0, rounds=10, epochs=1, target_epsilon=4.0, delta=1e-5)
    spent = [plan.spent(r * plan.steps_per_round) for r in range(11)]
    assert spent[0] == 0
    assert all(a < b for a, b in itertools.pairwise(spent))
    assert 3.9 < spent[-1] <= 4.0


@pytest.mark.parametrize(
    "bad",
    [
        lambda: rdp_sampled_gaussian(0.0, 1.0, 1),
        lambda: rdp_sampled_gaussian(0.1, 0.0, 1),
        lambda: epsilon(rdp_sampled_gaussian(0.1, 1.0, 1), 0.0),
        lambda: calibrate_noise(0.1, 10, 0.0, 1e-5),
        lambda: DpPlan.calibrated(0, 128, 1.0, 1, 1, 8.0, 1e-5),
    ],
)
def test_nonsense_settings_are_refused(bad: object) -> None:
    with pytest.raises(InvalidTrainingSettings):
        bad()  # type: ignore[operator]
