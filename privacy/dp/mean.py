"""The mean: a noisy count and a noisy re-centred sum in one measurement, and its stated error.

For a column with public bounds [L, U] the plan releases, in one ``make_private_lazyframe``
select (or one ``agg`` per group), two integer aggregates:

- ``count`` = N + Z_n: ``dp.len``, sensitivity 1;
- ``centred_sum`` = S + Z_s, where S = Σ (2x - (L + U)) over the values x clipped to [L, U]:
  twice each value re-centred at the midpoint c = (L + U)/2, so S is an integer even when
  L + U is odd, and each term lies in [-(U - L), U - L], so S's sensitivity is U - L
  (that of Σ (x - c) is (U - L)/2: the same noise relative to the signal; at most half that
  of a sum clipped to [L, U] when L ≥ 0).

Z_n and Z_s are OpenDP's integer Laplace noises; OpenDP's map composes the two. Both are
built at one global scale g, so each gets noise of its sensitivity times g: ε splits
equally between them. That is the split that minimises the worst case over where the
private mean may lie: the error's variance is ∝ (U - L)²/ε_s² + d²/ε_n² (d below), whose
largest value (|d| = U - L, a mean at a bound) is smallest at ε_s = ε_n; a split tuned to
the mean would need the private mean to choose it.

The released mean is post-processing (no privacy cost): m' = c + S'/(2N'), clamped to [L, U]
(the true mean μ of the clipped values lies within). Before the clamp, which can only move
m' towards μ,

    m' - μ = (Z_s - d·Z_n) / (2N'),   d = 2(μ - c),

exactly, with N' the released count. The stated error is q/(2N'), where q is the smallest
number with P(|Z_s - d·Z_n| ≤ q) ≥ confidence for the two noises' known scales. That
probability is computed by convolving the two discrete distributions: a sum over the count
noise's values k of P(Z_n = k)·P(|Z_s - d·k| ≤ q), each term from the integer Laplace's
closed-form distribution function, and q is found by a search over grids of 32 points (to
a relative 1e-9, taking the upper end). The omitted tail of Z_n (mass below 1e-13) counts
as not covered; past 2¹⁶ values of k (a count noise scale above about 2,000, ε below
0.001) the values are taken in bins of w, each bin given the window of Z_s common to all
its values (a lower bound on the coverage, which raises q by at most |d|·(w - 1), far below
q). So q never understates the quantile.

The true d is private, so the released d = 2(m' - c) is plugged in: the error is a function
of released values only, at no privacy cost, and a *plug-in* bound: its coverage is close to
the confidence (the tests measure it with the mean at the centre and near a bound), not
guaranteed at every private mean. Within about the error of a bound the clamp makes the
release more accurate than stated, and coverage rises towards 1 - (1 - confidence)/2.
No mean is released (value and error None) when N' <= 0. No error is stated when it would
be at least max(m' - L, U - m'), a bound |m' - μ| never exceeds (the count is too small for
the error to say more than the bounds), or past a confidence of 1 - 1e-12, beyond what the
computed coverage resolves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from opendp.extras.polars import DPExpr, dp_len

__all__ = ["COUNT", "SUM", "estimate", "expressions", "noise_quantile"]

COUNT, SUM = "count", "centred_sum"
_TAIL = 1e-13
_MAX_BINS = 1 << 16
_RELATIVE = 1e-9
_GRID = 32
_CELLS = 1 << 17


def expressions(name: str, bounds: tuple[int, int]) -> list[pl.Expr]:
    """The two aggregates of a mean of column ``name`` (one select or one agg)."""
    low, high = bounds
    # Clipped first so that doubling cannot overflow whatever the stored value.
    centred = pl.col(name).clip(low, high) * 2 - (low + high)
    span = high - low
    count: Any = dp_len(signed=True).alias(COUNT)
    total: Any = DPExpr(centred).sum((-span, span)).alias(SUM)  # type: ignore[no-untyped-call]
    return [count, total]


def _window(scale: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """P(lo <= Z <= hi) for integer Laplace noise Z of ``scale``, for integer arrays with
    hi >= 0 (windows around a non-negative centre); 0 where lo > hi. expm1 keeps the
    differences exact at large scales."""
    t1 = 1 + math.exp(-1 / scale)
    width = -np.expm1(-np.maximum(hi - lo + 1, 0) / scale)
    right = np.exp(-np.maximum(lo, 1) / scale) * width / t1  # lo >= 1
    around = 1 - (np.exp(-(hi + 1) / scale) + np.exp((np.minimum(lo, 0) - 1) / scale)) / t1
    return np.where(lo > hi, 0.0, np.where(lo >= 1, right, around))


@dataclass(frozen=True)
class _Noise:
    """The convolution's terms: Z_s's scale, |d|, and Z_n's values k >= 1 in bins of ``w``
    (``starts``, ``mass``: each bin's first k and its probability; P(Z_n = 0) is ``p0``)."""

    sum_scale: float
    d: float
    p0: float
    starts: np.ndarray
    w: int
    mass: np.ndarray

    def coverage(self, q: np.ndarray) -> np.ndarray:
        """For each q, a lower bound (exact when w = 1, but for the 1e-13 tail) on
        P(|Z_s - d·Z_n| <= q). Z_n and Z_s are symmetric, so Z_n = k and -k give one term.
        For Z_n = k over a bin, the window of Z_s, [d·k - q, d·k + q], always holds the
        integers in [⌈d·k_last - q⌉, ⌊d·k_first + q⌋]."""
        zero = _window(self.sum_scale, np.ceil(-q), np.floor(q))
        near = self.d * self.starts[:, None]
        far = self.d * (self.starts[:, None] + self.w - 1)
        inside = _window(self.sum_scale, np.ceil(far - q), np.floor(near + q))
        covered: np.ndarray = self.p0 * zero + 2 * (self.mass @ inside)
        return covered


def _noise(sum_scale: float, count_scale: float, d: float) -> _Noise:
    t = math.exp(-1 / count_scale)
    p0 = -math.expm1(-1 / count_scale) / (1 + t)
    # P(|Z_n| > K) = 2t^(K+1)/(1 + t) <= _TAIL.
    reach = math.ceil(count_scale * math.log(2 / (_TAIL * (1 + t))))
    w = max(1, math.ceil(reach / _MAX_BINS))
    starts = np.arange(1, reach + 1, w, dtype=np.float64)
    mass = np.exp(-starts / count_scale) * -math.expm1(-w / count_scale) / (1 + t)
    return _Noise(sum_scale, abs(d), p0, starts, w, mass)


def noise_quantile(
    sum_scale: float, count_scale: float, d: float, confidence: float, limit: float
) -> float | None:
    """The smallest q (to a relative 1e-9, rounded up) with P(|Z_s - d·Z_n| <= q) >=
    ``confidence``, for integer Laplace noises of these scales; None if it is ``limit`` or
    more, or the confidence is past 1 - 1e-12."""
    if confidence > 1 - 1e-12:
        return None
    noise = _noise(sum_scale, count_scale, d)

    def covered(q: np.ndarray) -> np.ndarray:
        return noise.coverage(q) >= confidence

    # A first bracket from the union bound P(|Z| > s·ln(4/a)) <= a/2 for each noise, a = 1 -
    # confidence (with room for rounding), checked; else the limit itself.
    guess = (sum_scale + noise.d * count_scale) * math.log(4 / (1 - confidence)) + noise.d + 1
    lo, hi = 0.0, min(guess, limit)
    if covered(np.array([lo]))[0]:
        return 0.0  # P(W = 0) alone reaches a (very low) confidence
    if not covered(np.array([hi]))[0]:
        hi = limit
        if not covered(np.array([hi]))[0]:
            return None
    # A search over a grid at a time (the coverage rises with q, so the first covered point
    # and the one before it bracket the quantile): one array operation where a bisection
    # takes log2(grid) calls; the grid is coarser where Z_n has many values.
    points = max(2, min(_GRID, _CELLS // len(noise.starts)))
    while hi - lo > _RELATIVE * hi:
        grid = np.linspace(lo, hi, points + 1)[1:]
        first = int(np.argmax(covered(grid)))  # hi itself is covered
        lo, hi = (lo if first == 0 else float(grid[first - 1])), float(grid[first])
    return None if hi >= limit else hi


def estimate(
    bounds: tuple[int, int],
    count: int,
    centred_sum: int,
    scales: tuple[float, float],
    confidence: float,
) -> tuple[float | None, float | None]:
    """The released mean and its stated error from the released count and centred sum
    (``scales``: their noise scales). Post-processing of released values only."""
    if count <= 0:
        return None, None
    low, high = bounds
    mean = min(max((low + high) / 2 + centred_sum / (2 * count), float(low)), float(high))
    count_scale, sum_scale = scales
    # |m' - μ| <= max(m' - L, U - m') holds always (μ is within the bounds): an error as
    # large says nothing the bounds do not, so none is stated (the count is too small).
    trivial = 2 * count * max(mean - low, high - mean)
    q = noise_quantile(sum_scale, count_scale, 2 * mean - (low + high), confidence, trivial)
    return mean, None if q is None else q / (2 * count)
