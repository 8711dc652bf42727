"""OpenDP measurements for each statistic, their noise scale and their stated error.

Every release is one OpenDP 0.16 measurement built by ``make_private_lazyframe`` over a
polars plan (``dp.len``, ``.dp.sum``, both for a mean, ``.dp.quantile``, grouped by a join
against the public key set), so the noise, its floating-point-safe sampling and the
privacy accounting inside one release are OpenDP's. The privacy unit is one client (one
row; symmetric distance 1: a client added or removed).

Calibration: OpenDP's privacy map of these plans is ε(g) = c / g in the global scale g, so
the measurement is built at g = 1, its ε read, and rebuilt at g = ε(1) / ε; the map of
the result is checked against ε (and g nudged up if float rounding went the wrong way).
The ledger records the ε asked for, which is never below the measurement's own map.

Errors (``error``: with probability at least ``confidence``, |released - true| ≤ error,
for each released group):

- count, histogram, grouped count: OpenDP's ``summarize_polars_measurement`` at
  alpha = 1 - confidence, which for these plans is ``discrete_laplacian_scale_to_accuracy``:
  integer Laplace noise of scale s; the error is the smallest a with P(|Z| ≥ a) ≤ alpha.
  "True" is the number of consenting clients (per group).
- sum: the same with the sum's scale; "true" is the sum of the values clipped to the
  column's public bounds.
- mean: a noisy count and a noisy re-centred sum (``privacy.dp.mean``, which documents the
  error): stated per release (per group), since it depends on the released count; a
  plug-in bound whose coverage is close to the confidence. None before a release.
- quantile: no error is stated (``None``). It is an exponential-mechanism choice among
  public candidates, for which OpenDP's summary states no accuracy; the mechanism's
  guarantee bounds how many clients' ranks lie between the released and the true quantile,
  and that converts to value units only through the private values' spread around the
  quantile, so a number in value units would be a guess.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import opendp.prelude as dp
import polars as pl
from opendp.extras.polars import DPExpr, Margin, dp_len

from privacy.dp import mean
from privacy.dp.population import MEMBER, key_dtype
from privacy.dp.query import Shape, group_label

__all__ = ["Planned", "Released", "epsilon_for_error", "plan", "quantile_candidates", "run"]

dp.enable_features("contrib")

# A public bound on the number of rows (clients), which OpenDP needs to rule out overflow
# in integer sums; it is a fact about the firm's scale, not about the data.
MAX_ROWS = 10_000_000
_D_IN = 1
_MAX_CANDIDATES = 1001
_NUDGE = 1 + 1e-12
_MECHANISMS = {"Integer Laplace": "discrete_laplace", "Float Laplace": "laplace"}


@dataclass(frozen=True)
class Planned:
    measurement: dp.Measurement
    epsilon: float
    mechanism: str
    # (aggregate, scale) as OpenDP's summary reports them: one, or count and sum for a mean.
    scales: tuple[tuple[str, float], ...]
    # The error every release states, or None (a mean states its own per release).
    error: float | None

    @property
    def noise_scale(self) -> str:
        if len(self.scales) == 1:
            return repr(self.scales[0][1])
        return ";".join(f"{name}={scale!r}" for name, scale in self.scales)


def quantile_candidates(bounds: tuple[int, int]) -> list[int]:
    """Public candidates for a quantile: every integer within the bounds, or 1001 evenly
    spaced ones across them."""
    low, high = bounds
    if high - low + 1 <= _MAX_CANDIDATES:
        return list(range(low, high + 1))
    step = (high - low) / (_MAX_CANDIDATES - 1)
    return sorted({round(low + k * step) for k in range(_MAX_CANDIDATES)})


def _atoms(kind: Any) -> Any:
    if isinstance(kind, pl.Enum):
        return dp.enum_domain(kind.categories)
    return dp.atom_domain(T={pl.Int64: dp.i64, pl.Boolean: bool}.get(kind, dp.String))


def _domain(shape: Shape) -> Any:
    series = [dp.series_domain(name, _atoms(kind)) for name, kind in _schema(shape).items()]
    margin = Margin(by=[], max_length=MAX_ROWS)
    return dp.with_margin(dp.lazyframe_domain(series), margin)


def _schema(shape: Shape) -> dict[str, Any]:
    if not shape.columns:
        # A count of every member reads no column of theirs; a boolean column is bit-packed,
        # so OpenDP's copy of it across its FFI costs next to nothing.
        return {MEMBER: pl.Boolean}
    keys = {c.name for c in shape.keys}
    return {
        c.name: key_dtype(c) if c.name in keys else pl.Int64 if c.numeric else pl.String
        for c in shape.columns
    }


def _expr(built: Any) -> pl.Expr:
    assert isinstance(built, pl.Expr)
    return built


def _aggregates(shape: Shape) -> list[pl.Expr]:
    col = shape.column
    if shape.statistic in ("count", "histogram"):
        return [_expr(dp_len(signed=True))]
    assert col is not None and col.bounds is not None
    if shape.statistic == "mean":
        return mean.expressions(col.name, col.bounds)
    values = DPExpr(pl.col(col.name))  # type: ignore[no-untyped-call]
    if shape.statistic == "sum":
        return [_expr(values.sum(col.bounds))]
    assert shape.quantile is not None
    candidates: list[Any] = list(quantile_candidates(col.bounds))
    return [_expr(values.quantile(shape.quantile, candidates))]


def _epsilon(m: dp.Measurement) -> float:
    """The measurement's ε for one client added or removed."""
    return float(m.map(_D_IN))  # type: ignore[no-untyped-call]


def keys_frame(shape: Shape) -> pl.DataFrame:
    """Every combination of the public key sets of the groups (the released groups)."""
    rows = list(itertools.product(*(c.categories or () for c in shape.keys)))
    return pl.DataFrame(rows, schema={c.name: key_dtype(c) for c in shape.keys}, orient="row")


def _plan(shape: Shape) -> pl.LazyFrame:
    empty = pl.LazyFrame(schema=_schema(shape))
    aggs = _aggregates(shape)
    if not shape.keys:
        return empty.select(aggs)
    names = [c.name for c in shape.keys]
    grouped = empty.group_by(names).agg(aggs)
    return keys_frame(shape).lazy().join(grouped, on=names, how="left", nulls_equal=True)


def _make(shape: Shape, plan: pl.LazyFrame, scale: float) -> dp.Measurement:
    return dp.m.make_private_lazyframe(
        _domain(shape), dp.symmetric_distance(), dp.max_divergence(), plan, global_scale=scale
    )


def _summary(m: dp.Measurement, confidence: float) -> pl.DataFrame:
    summary = dp.summarize_polars_measurement(m, 1.0 - confidence)
    assert isinstance(summary, pl.DataFrame)
    return summary


def plan(shape: Shape, epsilon: float) -> Planned:
    """The measurement that spends at most ``epsilon`` on this shape, and its error."""
    lazy = _plan(shape)
    unit = _make(shape, lazy, 1.0)
    scale = _epsilon(unit) / epsilon
    m = _make(shape, lazy, scale)
    for _ in range(8):
        if _epsilon(m) <= epsilon:
            break
        scale *= _NUDGE
        m = _make(shape, lazy, scale)
    else:  # pragma: no cover - OpenDP's map is c / g; rounding is a few ulps at most
        raise RuntimeError("could not calibrate the measurement to the requested epsilon")
    summary = _summary(m, shape.confidence)
    # A mean's two aggregates are named by their columns (OpenDP's names: "Frame Length", "Sum").
    names = "column" if shape.statistic == "mean" else "aggregate"
    aggregates = summary[names].to_list()
    scales = tuple(zip(aggregates, (float(s) for s in summary["scale"]), strict=True))
    distributions = set(summary["distribution"].to_list())
    mechanism = "exponential" if shape.statistic == "quantile" else _MECHANISMS[distributions.pop()]
    error: float | None = None
    if shape.statistic in ("count", "histogram", "sum"):
        (accuracy,) = summary["accuracy"].to_list()
        error = float(accuracy)
    return Planned(m, epsilon, mechanism, scales, error)


def epsilon_for_error(shape: Shape, error: float) -> float:
    """The smallest ε (to OpenDP's accuracy functions) whose stated error is at most
    ``error``; only for the statistics that state an error."""
    lazy = _plan(shape)
    unit = _make(shape, lazy, 1.0)
    (unit_scale,) = _summary(unit, shape.confidence)["scale"].to_list()
    alpha = 1.0 - shape.confidence
    needed = float(dp.accuracy_to_discrete_laplacian_scale(error, alpha))
    epsilon = _epsilon(unit) * float(unit_scale) / needed
    # The scale found is real-valued; the integer noise's accuracy may round a hair above.
    for _ in range(64):
        planned = plan(shape, epsilon)
        if planned.error is not None and planned.error <= error:
            return epsilon
        epsilon *= 1.0001
    raise RuntimeError("no epsilon reaches the requested error")  # pragma: no cover


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RuntimeError(f"OpenDP released no finite number: {value!r}")
    return value


Value = int | float | None | dict[str, int | float | None]
Error = float | None | dict[str, float | None]


@dataclass(frozen=True)
class Released:
    value: Value
    # One error for every group, or (a grouped mean) one per group.
    error: Error


def _mean(planned: Planned, shape: Shape, row: dict[str, Any]) -> tuple[float | None, float | None]:
    assert shape.column is not None and shape.column.bounds is not None
    scales = dict(planned.scales)
    return mean.estimate(
        shape.column.bounds,
        int(_number(row[mean.COUNT])),
        int(_number(row[mean.SUM])),
        (scales[mean.COUNT], scales[mean.SUM]),
        shape.confidence,
    )


def _released(planned: Planned, shape: Shape, row: dict[str, Any]) -> tuple[Any, float | None]:
    """One group's (or the whole release's) number and error from its output row."""
    if shape.statistic == "mean":
        return _mean(planned, shape, row)
    (value,) = (v for k, v in row.items() if k not in {c.name for c in shape.keys})
    return _number(value), planned.error


def run(planned: Planned, shape: Shape, frame: pl.DataFrame) -> Released:
    """Apply the measurement to the members' rows (only the shape's columns, no nulls)."""
    rows = planned.measurement(frame.lazy()).collect().iter_rows(named=True)
    names = [c.name for c in shape.keys]
    if not names:
        return Released(*_released(planned, shape, next(rows)))
    released = {tuple(str(row[n]) for n in names): _released(planned, shape, row) for row in rows}
    # In the order of the declared key sets (the join's own order is not defined).
    keys = [*itertools.product(*(c.categories or () for c in shape.keys))]
    values = {group_label(k): released[k][0] for k in keys}
    if shape.statistic != "mean":
        return Released(values, planned.error)
    return Released(values, {group_label(k): released[k][1] for k in keys})
