"""Differentially private statistics for analysts: ``stats_preview``, ``stats``, ``budget``.

The calls are mixed into ``CustosClient`` and ``AsyncCustosClient``; an analyst's key
(``cus_analyst_…``) authenticates them.

    with CustosClient(url, analyst_key) as custos:
        p = custos.stats_preview("clients", "count", epsilon=0.5)  # p.error at 95%
        r = custos.stats("clients", "histogram", column="risk_level", epsilon=0.5)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AsyncStatsCalls", "StatsBudget", "StatsCalls", "StatsPreview", "StatsRelease"]

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
    error: float | None
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


def _body(
    dataset: str,
    statistic: str,
    column: str | None,
    group_by: Sequence[str],
    quantile: float | None,
    epsilon: float | None,
    error: float | None,
    confidence: float,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dataset": dataset,
        "statistic": statistic,
        "column": column,
        "group_by": list(group_by),
        "confidence": confidence,
    }
    for name, value in (("quantile", quantile), ("epsilon", epsilon), ("error", error)):
        if value is not None:
            body[name] = value
    return body


class StatsCalls(ABC):
    @abstractmethod
    def _send_json(self, method: str, path: str, json: Any = None) -> Any: ...

    def stats_preview(
        self,
        dataset: str,
        statistic: str,
        *,
        column: str | None = None,
        group_by: Sequence[str] = (),
        quantile: float | None = None,
        epsilon: float | None = None,
        error: float | None = None,
        confidence: float = 0.95,
    ) -> StatsPreview:
        """The error at ``epsilon``, or the ε ``error`` needs; spends nothing."""
        body = _body(dataset, statistic, column, group_by, quantile, epsilon, error, confidence)
        return StatsPreview.from_json(self._send_json("POST", "/v1/stats:preview", body))

    def stats(
        self,
        dataset: str,
        statistic: str,
        *,
        epsilon: float,
        column: str | None = None,
        group_by: Sequence[str] = (),
        quantile: float | None = None,
        confidence: float = 0.95,
    ) -> StatsRelease:
        """Release a statistic, spending ``epsilon`` (CustosProblem ``budget_exceeded``,
        with ``epsilon_remaining`` in its problem, when too little is left)."""
        body = _body(dataset, statistic, column, group_by, quantile, epsilon, None, confidence)
        return StatsRelease.from_json(self._send_json("POST", "/v1/stats", body))

    def budget(self) -> StatsBudget:
        return StatsBudget.from_json(self._send_json("GET", "/v1/stats/budget"))


class AsyncStatsCalls(ABC):
    @abstractmethod
    async def _send_json(self, method: str, path: str, json: Any = None) -> Any: ...

    async def stats_preview(
        self,
        dataset: str,
        statistic: str,
        *,
        column: str | None = None,
        group_by: Sequence[str] = (),
        quantile: float | None = None,
        epsilon: float | None = None,
        error: float | None = None,
        confidence: float = 0.95,
    ) -> StatsPreview:
        body = _body(dataset, statistic, column, group_by, quantile, epsilon, error, confidence)
        return StatsPreview.from_json(await self._send_json("POST", "/v1/stats:preview", body))

    async def stats(
        self,
        dataset: str,
        statistic: str,
        *,
        epsilon: float,
        column: str | None = None,
        group_by: Sequence[str] = (),
        quantile: float | None = None,
        confidence: float = 0.95,
    ) -> StatsRelease:
        body = _body(dataset, statistic, column, group_by, quantile, epsilon, None, confidence)
        return StatsRelease.from_json(await self._send_json("POST", "/v1/stats", body))

    async def budget(self) -> StatsBudget:
        return StatsBudget.from_json(await self._send_json("GET", "/v1/stats/budget"))
