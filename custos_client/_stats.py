"""Differentially private statistics for analysts: ``stats_preview``, ``stats``, ``budget``.

The calls are mixed into ``CustosClient`` and ``AsyncCustosClient``; an analyst's key
(``cus_analyst_…``) authenticates them.

    with CustosClient(url, analyst_key) as custos:
        p = custos.stats_preview("clients", "count", epsilon=0.5)  # p.error at 95%
        r = custos.stats("clients", "histogram", column="risk_level", epsilon=0.5)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

__all__ = [
    "AsyncStatsCalls",
    "PreviewOptions",
    "StatsBudget",
    "StatsCalls",
    "StatsOptions",
    "StatsPreview",
    "StatsRelease",
]

Number = int | float


@dataclass(frozen=True)
class StatsPreview:
    epsilon: float
    confidence: float
    error: float | None  # with probability ≥ confidence, |released - true| ≤ error
    epsilon_remaining: float
    warning: str | None = None

    @classmethod
    def from_json(cls, b: dict[str, Any]) -> StatsPreview:
        return cls(
            b["epsilon"], b["confidence"], b["error"], b["epsilon_remaining"], b.get("warning")
        )


@dataclass(frozen=True)
class StatsRelease:
    value: Number | dict[str, Number | None] | None
    # One error for every group, or (a grouped mean) one per group: see StatsPreview.error.
    error: float | dict[str, float | None] | None
    confidence: float
    epsilon_spent: float
    epsilon_remaining: float
    mechanism: str
    ledger_index: int
    warning: str | None = None

    @classmethod
    def from_json(cls, b: dict[str, Any]) -> StatsRelease:
        return cls(
            b["value"],
            b["error"],
            b["confidence"],
            b["epsilon_spent"],
            b["epsilon_remaining"],
            b["mechanism"],
            b["ledger_index"],
            b.get("warning"),
        )


@dataclass(frozen=True)
class StatsBudget:
    epsilon_total: float
    epsilon_spent: float
    epsilon_remaining: float
    delta_total: float | None = None
    delta_spent: float | None = None
    delta_remaining: float | None = None

    @classmethod
    def from_json(cls, b: dict[str, Any]) -> StatsBudget:
        return cls(
            b["epsilon_total"],
            b["epsilon_spent"],
            b["epsilon_remaining"],
            b.get("delta_total"),
            b.get("delta_spent"),
            b.get("delta_remaining"),
        )


class StatsOptions(TypedDict, total=False):
    """What a statistic is over, besides its dataset and statistic (the defaults: no
    column, no groups, confidence 0.95)."""

    column: str | None
    group_by: Sequence[str]
    quantile: float | None
    confidence: float


class PreviewOptions(StatsOptions, total=False):
    """A preview's: the ε to state the error of, or the error to find the ε of."""

    epsilon: float | None
    error: float | None


def _body(dataset: str, statistic: str, options: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dataset": dataset,
        "statistic": statistic,
        "column": options.get("column"),
        "group_by": list(options.get("group_by", ())),
        "confidence": options.get("confidence", 0.95),
    }
    for name in ("quantile", "epsilon", "error"):
        value = options.get(name)
        if value is not None:
            body[name] = value
    return body


_PREVIEW, _RELEASE, _BUDGET = "/v1/stats:preview", "/v1/stats", "/v1/stats/budget"


class StatsCalls(ABC):
    @abstractmethod
    def _send_json(self, method: str, path: str, json: Any = None) -> Any: ...

    def stats_preview(
        self, dataset: str, statistic: str, **options: Unpack[PreviewOptions]
    ) -> StatsPreview:
        """The error at ``epsilon``, or the ε ``error`` needs; spends nothing."""
        body = _body(dataset, statistic, options)
        return StatsPreview.from_json(self._send_json("POST", _PREVIEW, body))

    def stats(
        self, dataset: str, statistic: str, *, epsilon: float, **options: Unpack[StatsOptions]
    ) -> StatsRelease:
        """Release a statistic, spending ``epsilon`` (CustosProblem ``budget_exceeded``,
        with ``epsilon_remaining`` in its problem, when too little is left)."""
        body = _body(dataset, statistic, {**options, "epsilon": epsilon})
        return StatsRelease.from_json(self._send_json("POST", _RELEASE, body))

    def budget(self) -> StatsBudget:
        return StatsBudget.from_json(self._send_json("GET", _BUDGET))


class AsyncStatsCalls(ABC):
    """The same calls as ``StatsCalls``, awaited."""

    @abstractmethod
    async def _send_json(self, method: str, path: str, json: Any = None) -> Any: ...

    async def stats_preview(
        self, dataset: str, statistic: str, **options: Unpack[PreviewOptions]
    ) -> StatsPreview:
        body = _body(dataset, statistic, options)
        return StatsPreview.from_json(await self._send_json("POST", _PREVIEW, body))

    async def stats(
        self, dataset: str, statistic: str, *, epsilon: float, **options: Unpack[StatsOptions]
    ) -> StatsRelease:
        body = _body(dataset, statistic, {**options, "epsilon": epsilon})
        return StatsRelease.from_json(await self._send_json("POST", _RELEASE, body))

    async def budget(self) -> StatsBudget:
        return StatsBudget.from_json(await self._send_json("GET", _BUDGET))
