"""Prometheus metrics, one registry per application instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "custos_http_requests_total",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "custos_http_request_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.decisions = Counter(
            "custos_decisions_total",
            "Policy decisions by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        # Label lookups hash and lock on every call; a request reuses the children it made.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._decision_children: dict[str, Any] = {}
        self.ledger_size = Gauge(
            "custos_ledger_entries", "Entries in the ledger.", registry=self.registry
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_decision(self, outcome: str) -> None:
        child = self._decision_children.get(outcome)
        if child is None:
            child = self._decision_children[outcome] = self.decisions.labels(outcome)
        child.inc()
