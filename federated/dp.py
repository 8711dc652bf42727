"""The privacy accountant of a department's DP-SGD training: Rényi DP of the Poisson-
subsampled Gaussian mechanism, composed over steps and converted to (ε, δ).

Pure (numpy and math only). The unit of privacy is one client record: a department's
updates over the whole run are (ε, δ)-DP with respect to adding or removing one of its
clients, whatever the server and the other departments do with them.

- One DP-SGD step (``federated.model``) samples each record with probability ``q``, clips
  each per-record gradient to norm C and adds N(0, sigma^2 C^2): the sampled Gaussian mechanism
  with noise multiplier sigma. For an integer order alpha ≥ 2 its RDP is exactly
  ``log(A(alpha)) / (alpha - 1)`` with
  ``A(alpha) = sum over k = 0..alpha of``
  ``C(alpha, k) (1 - q)^(alpha - k) q^k exp((k^2 - k) / (2 sigma^2))``
  (Mironov, Talwar and Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian
  Mechanism", section 3.3).
- RDP composes additively: T steps cost T times the per-step RDP at each order.
- RDP at order alpha converts to (ε, δ)-DP by
  ``ε = rdp + log((alpha - 1) / alpha) - (log δ + log alpha) / (alpha - 1)`` (Balle et al. 2020,
  "Hypothesis Testing Interpretations and Renyi Differential Privacy", Theorem 21); the
  reported ε is the minimum over the orders 2..256.

Only integer orders are used: a smaller set than fractional ones, so ε may be slightly
larger than the tightest bound, never smaller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from federated.errors import InvalidTrainingSettings

__all__ = ["ORDERS", "DpPlan", "calibrate_noise", "epsilon", "rdp_sampled_gaussian"]

ORDERS = tuple(range(2, 257))


@cache
def _log_binomials(alpha: int) -> npt.NDArray[np.float64]:
    return np.array(
        [
            math.lgamma(alpha + 1) - math.lgamma(k + 1) - math.lgamma(alpha - k + 1)
            for k in range(alpha + 1)
        ]
    )


def _log_a(q: float, sigma: float, alpha: int) -> float:
    """log A(alpha) of the module docstring, by log-sum-exp over its alpha + 1 terms."""
    if q == 1.0:
        return alpha * (alpha - 1) / (2 * sigma * sigma)
    k = np.arange(alpha + 1, dtype=np.float64)
    terms = (
        _log_binomials(alpha)
        + (alpha - k) * math.log1p(-q)
        + k * math.log(q)
        + (k * k - k) / (2 * sigma * sigma)
    )
    top = float(terms.max())
    return top + math.log(float(np.exp(terms - top).sum()))


def rdp_sampled_gaussian(q: float, sigma: float, steps: int) -> list[float]:
    """RDP at each of ``ORDERS`` of ``steps`` compositions of the sampled Gaussian."""
    if not 0 < q <= 1 or sigma <= 0 or steps < 0:
        raise InvalidTrainingSettings(
            "the accountant needs 0 < q <= 1, sigma > 0 and steps >= 0", field="dp"
        )
    return [steps * _log_a(q, sigma, a) / (a - 1) for a in ORDERS]


def epsilon(rdp: list[float], delta: float) -> float:
    """The smallest ε over the orders for which the composed mechanism is (ε, δ)-DP."""
    if not 0 < delta < 1:
        raise InvalidTrainingSettings("delta must lie strictly between 0 and 1", field="delta")
    best = math.inf
    for a, r in zip(ORDERS, rdp, strict=True):
        eps = r + math.log((a - 1) / a) - (math.log(delta) + math.log(a)) / (a - 1)
        best = min(best, eps)
    return max(best, 0.0)


def calibrate_noise(q: float, steps: int, target_epsilon: float, delta: float) -> float:
    """The smallest noise multiplier (to 0.1 %) whose ``steps`` DP-SGD steps at sampling rate
    ``q`` stay within ``target_epsilon`` at ``delta``."""
    if target_epsilon <= 0:
        raise InvalidTrainingSettings("epsilon must be positive", field="epsilon")
    low, high = 0.05, 1.0
    while epsilon(rdp_sampled_gaussian(q, high, steps), delta) > target_epsilon:
        high *= 2
        if high > 1e4:
            raise InvalidTrainingSettings(
                f"no noise multiplier reaches epsilon {target_epsilon} in {steps} steps",
                field="epsilon",
            )
    while high - low > 1e-3 * high:
        mid = (low + high) / 2
        if epsilon(rdp_sampled_gaussian(q, mid, steps), delta) > target_epsilon:
            low = mid
        else:
            high = mid
    return high


@dataclass(frozen=True)
class DpPlan:
    """One department's DP-SGD for a run: sampling rate, clipping norm and the noise
    multiplier calibrated so that ``rounds`` rounds of ``steps_per_round`` steps spend at
    most ``target_epsilon`` at ``delta``."""

    sample_rate: float
    clip: float
    noise_multiplier: float
    steps_per_round: int
    delta: float
    target_epsilon: float

    @classmethod
    def calibrated(
        cls,
        examples: int,
        batch_size: int,
        clip: float,
        rounds: int,
        epochs: int,
        target_epsilon: float,
        delta: float,
    ) -> DpPlan:
        if examples <= 0:
            raise InvalidTrainingSettings("DP-SGD needs at least one example", field="examples")
        q = min(1.0, batch_size / examples)
        steps_per_round = epochs * max(1, round(1.0 / q))
        sigma = calibrate_noise(q, steps_per_round * rounds, target_epsilon, delta)
        return cls(q, clip, sigma, steps_per_round, delta, target_epsilon)

    def spent(self, steps: int) -> float:
        """ε spent after ``steps`` steps."""
        if steps == 0:
            return 0.0
        return epsilon(
            rdp_sampled_gaussian(self.sample_rate, self.noise_multiplier, steps), self.delta
        )
