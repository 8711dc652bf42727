"""A Custos with consenting clients and an analyst, on each backend."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.settings import api_settings
from api.state import Services, build_services
from consent_ledger.principals import Principal
from consent_ledger.settings import ledger_settings
from policies.datasets import Datasets
from policies.seed import SimulatedClock
from privacy.dp import StatsService
from privacy.dp.analysts import create_analyst

AUM = "user.financial.assets_under_management"
INCOME = "user.financial.household_income"
DOB = "user.demographic.date_of_birth"
RISK = "user.financial.risk_level"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def values(n: int) -> dict[str, Any]:
    """A client's values at every level, fixed by ``n`` (known true statistics)."""
    return {
        DOB: f"{1950 + n % 40}-03-15",
        AUM: 100_000 * (n % 7),
        RISK: f"C{1 + n % 5}",
        "user.financial.risk_questionnaire": [1 + (n + k) % 5 for k in range(10)],
        INCOME: 50_000 + 10_000 * (n % 3),
    }


@dataclass
class DpWorld:
    services: Services
    clock: SimulatedClock
    clients: list[str]

    @property
    def stats(self) -> StatsService:
        return self.services.stats

    def analyst(self, epsilon: float, name: str = "analyst") -> tuple[Principal, str]:
        issued = create_analyst(
            self.services.accounts,
            self.stats.datasets,
            name,
            "research",
            "clients",
            epsilon,
            0.0,
            self.clock(),
        )
        return self.services.accounts.authenticate(issued.key), issued.key

    def add_client(self, n: int, level: int = 4, research: bool = True) -> str:
        registry = self.services.custos.registry
        client = registry.register_client()
        registry.collect(client, values(n), by="compliance")
        purposes = ["kyc", "research_analytics"] if research else ["kyc"]
        registry.grant(client, level, purposes)
        self.clients.append(client)
        return client


def with_cap(datasets: Datasets, cap: float) -> Datasets:
    """The shipped datasets with another per-release ε cap (to test at a very large ε)."""
    return Datasets(
        datasets.source,
        {
            name: dataclasses.replace(d, max_epsilon_per_release=cap)
            for name, d in datasets.datasets.items()
        },
    )


def open_world(database_url: str, data_dir: Path, clock: SimulatedClock) -> Services:
    settings = api_settings(ledger=ledger_settings(database_url=database_url, data_dir=data_dir))
    return build_services(settings, clock)


@pytest.fixture
def world(database_url: str, data_dir: Path) -> Iterator[DpWorld]:
    clock = SimulatedClock(NOW)
    services = open_world(database_url, data_dir, clock)
    try:
        yield DpWorld(services, clock, [])
    finally:
        services.close()
