"""A statistics request, checked against its dataset before anything is computed or spent.

Pure: a ``StatQuery`` (what the caller sent) becomes a ``Shape`` (what will be measured) or a
refusal naming the field at fault. Nothing here sees private data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from policies.datasets import Column, Dataset, Datasets
from privacy.dp.errors import ColumnNotPermitted, InvalidStatistic, UnknownColumn, UnknownDataset

__all__ = ["STATISTICS", "Shape", "StatQuery", "Statistic", "check_query", "group_label"]

Statistic = Literal["count", "sum", "mean", "histogram", "quantile"]
STATISTICS: tuple[Statistic, ...] = ("count", "sum", "mean", "histogram", "quantile")
# ε above this in one release is allowed (up to the dataset's cap) but warned about.
WARN_EPSILON = 5.0
_MAX_GROUP_COLUMNS = 3
_MAX_GROUPS = 10_000


@dataclass(frozen=True)
class StatQuery:
    """The request body of ``POST /v1/stats`` and ``/v1/stats:preview``: exactly one of
    ``epsilon`` and ``error`` (a release needs ``epsilon``)."""

    dataset: str
    statistic: str
    column: str | None = None
    group_by: tuple[str, ...] = ()
    quantile: float | None = None
    epsilon: float | None = None
    error: float | None = None
    confidence: float = 0.95


@dataclass(frozen=True)
class Shape:
    """A checked query: the statistic, its columns and the public key sets of its groups."""

    dataset: Dataset
    statistic: Statistic
    column: Column | None
    group_by: tuple[Column, ...]
    quantile: float | None
    confidence: float

    @property
    def columns(self) -> tuple[Column, ...]:
        """Every column the query reads (the measured one first, then the groups)."""
        measured = () if self.column is None else (self.column,)
        return measured + tuple(g for g in self.group_by if g != self.column)

    @property
    def categories(self) -> tuple[str, ...]:
        """The catalogue categories a client's consent must cover for this query; a count
        of every client reads no column, and needs the dataset's lowest-level one."""
        if not self.columns:
            lowest = min(self.dataset.columns.values(), key=lambda c: (c.level, c.name))
            return (lowest.category,)
        return tuple(sorted({c.category for c in self.columns}))

    @property
    def keys(self) -> tuple[Column, ...]:
        """The columns released groups are keyed by: the groups, then a histogram's column."""
        if self.statistic == "histogram" and self.column is not None:
            return (*self.group_by, self.column)
        return self.group_by


def group_label(values: tuple[str, ...]) -> str:
    """A released group's key: its public key values joined by ``|``."""
    return "|".join(values)


def _finite(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidStatistic(f"{name} must be a finite number", field=name)
    return float(value)


def check_epsilon(epsilon: float, dataset: Dataset) -> float:
    eps = _finite(epsilon, "epsilon")
    if eps <= 0:
        raise InvalidStatistic("epsilon must be greater than 0", field="epsilon")
    if eps > dataset.max_epsilon_per_release:
        raise InvalidStatistic(
            f"epsilon {eps} is above the cap of {dataset.max_epsilon_per_release} per release "
            f"on dataset {dataset.name}",
            field="epsilon",
        )
    return eps


def check_query(q: StatQuery, datasets: Datasets, department: str, granted: str) -> Shape:
    """The query's shape, or a refusal naming its field. ``granted`` is the dataset the
    analyst's budget is for; ``department`` the one their key acts for."""
    dataset = datasets.datasets.get(q.dataset)
    if dataset is None:
        known = ", ".join(sorted(datasets.datasets))
        raise UnknownDataset(f"dataset {q.dataset!r} is not one of: {known}", field="dataset")
    if department not in dataset.departments or q.dataset != granted:
        raise ColumnNotPermitted(
            f"this analyst ({department}) may not query dataset {q.dataset!r}", field="dataset"
        )
    if q.statistic not in STATISTICS:
        known = ", ".join(STATISTICS)
        raise InvalidStatistic(
            f"statistic {q.statistic!r} is not one of: {known}", field="statistic"
        )
    statistic: Statistic = q.statistic
    column = None if q.column is None else _column(dataset, q.column, "column")
    _fits(statistic, column)
    groups = _groups(dataset, q.group_by, column, statistic)
    quantile = None
    if statistic == "quantile":
        if q.quantile is None:
            raise InvalidStatistic(
                "a quantile release names its quantile (0 to 1)", field="quantile"
            )
        quantile = _finite(q.quantile, "quantile")
        if not 0.0 <= quantile <= 1.0:
            raise InvalidStatistic("quantile must be between 0 and 1", field="quantile")
    elif q.quantile is not None:
        raise InvalidStatistic("quantile is only for statistic 'quantile'", field="quantile")
    confidence = _finite(q.confidence, "confidence")
    # Both the confidence and its complement must be numbers in (0, 1): 1e-300 is in
    # (0, 1), but 1 - 1e-300 is 1.0 as a float.
    if not (0.0 < confidence < 1.0 and 0.0 < 1.0 - confidence < 1.0):
        raise InvalidStatistic("confidence must be between 0 and 1, exclusive", field="confidence")
    if (q.epsilon is None) == (q.error is None):
        raise InvalidStatistic("give exactly one of epsilon and error", field="epsilon")
    if q.epsilon is not None:
        check_epsilon(q.epsilon, dataset)
    if q.error is not None and _finite(q.error, "error") <= 0:
        raise InvalidStatistic("error must be greater than 0", field="error")
    return Shape(dataset, statistic, column, groups, quantile, confidence)


def _column(dataset: Dataset, name: str, field: str) -> Column:
    column = dataset.columns.get(name)
    if column is None:
        known = ", ".join(dataset.columns)
        raise UnknownColumn(
            f"dataset {dataset.name} has no column {name!r}; it has: {known}", field=field
        )
    return column


def _fits(statistic: Statistic, column: Column | None) -> None:
    if statistic == "count":
        return  # of every client, or of those with a value in the column
    if column is None:
        raise InvalidStatistic(f"statistic {statistic!r} needs a column", field="column")
    if statistic == "histogram" and column.numeric:
        raise InvalidStatistic(
            f"a histogram is over a categorical column; {column.name} is numeric "
            "(count it grouped by a categorical column instead)",
            field="column",
        )
    if statistic in ("sum", "mean", "quantile") and not column.numeric:
        raise InvalidStatistic(
            f"statistic {statistic!r} needs a numeric column; {column.name} is categorical",
            field="column",
        )


def _groups(
    dataset: Dataset, names: tuple[str, ...], column: Column | None, statistic: Statistic
) -> tuple[Column, ...]:
    if len(names) > _MAX_GROUP_COLUMNS:
        raise InvalidStatistic(f"group by at most {_MAX_GROUP_COLUMNS} columns", field="group_by")
    if len(set(names)) != len(names):
        raise InvalidStatistic("a column is grouped by twice", field="group_by")
    groups = []
    size = 1
    for n, name in enumerate(names):
        col = _column(dataset, name, f"group_by.{n}")
        if col.categories is None:
            raise InvalidStatistic(
                f"{name} has no public key set to group by (only categorical columns do)",
                field=f"group_by.{n}",
            )
        if statistic == "histogram" and column is not None and col.name == column.name:
            raise InvalidStatistic(f"the histogram is already over {name}", field=f"group_by.{n}")
        size *= len(col.categories)
        groups.append(col)
    if column is not None and statistic == "histogram" and column.categories is not None:
        size *= len(column.categories)
    if size > _MAX_GROUPS:
        raise InvalidStatistic(f"at most {_MAX_GROUPS} groups per release", field="group_by")
    return tuple(groups)
