"""An API over a fresh database on each backend, with one account of every kind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import api_settings
from api.state import Services, build_services
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock


@dataclass
class World:
    http: TestClient
    services: Services
    clock: SimulatedClock
    advisory: str
    research: str
    marketing_app: str
    auditor: str
    alice: str  # client id, consent L2 with kyc, suitability, investment_advice, marketing
    alice_token: str
    bob: str  # client id, no consent
    bob_token: str

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def ledger_size(self) -> int:
        return self.services.custos.ledger.size()


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    clock = SimulatedClock(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    settings = api_settings(
        ledger=ledger_settings(database_url=database_url, data_dir=tmp_path / "keys")
    )
    services = build_services(settings, clock)
    accounts, registry = services.accounts, services.custos.registry
    now = clock()
    alice = registry.register_client()
    registry.collect(
        alice,
        {
            "user.name": "Alice Example",
            "user.government_id": "110101199003074512",
            "user.financial.assets_under_management": 2_500_000,
        },
        by="compliance",
    )
    registry.grant(alice, 2, ["kyc", "suitability", "investment_advice", "marketing"])
    bob = registry.register_client()
    app = create_app(settings, clock=clock, services=services, checkpointing=False)
    with TestClient(app, raise_server_exceptions=False) as http:
        yield World(
            http=http,
            services=services,
            clock=clock,
            advisory=accounts.create_app("advisory", "advice desk", now).key,
            research=accounts.create_app("research", "research desk", now).key,
            marketing_app=accounts.create_app("advisory", "newsletter", now).key,
            auditor=accounts.create_auditor("external auditor", now).key,
            alice=alice,
            alice_token=accounts.create_client_login(alice, "alice", "pw-alice-123", now).key,
            bob=bob,
            bob_token=accounts.create_client_login(bob, "bob", None, now).key,
        )
