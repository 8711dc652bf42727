"""A real installation for the proof-flow tests: the API over a fresh database, app keys of
two departments, and clients whose provable attributes the KYC desk has attested.

Not a conftest (ZK-core owns tests/zk's conftest): test modules import the ``flow`` fixture
from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import api_settings
from api.state import Services, build_services
from consent_ledger.encoding import decode_entry
from consent_ledger.principals import Principal
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock

AUM = "user.financial.assets_under_management"
STAGE = "qualified_investor_check"
RICH_AUM = 4_000_000
POOR_AUM = 2_500_000
PURPOSES = ["kyc", "suitability", "investment_advice"]


@dataclass
class Flow:
    http: TestClient
    services: Services
    clock: SimulatedClock
    advisory: str  # app key, department advisory (the proof rule's audience)
    advisory_app: Principal
    risk: str  # app key, department risk
    compliance: str  # app key, department compliance (collects for KYC)
    rich: str  # client: AUM above the qualified-investor threshold, consent L2
    poor: str  # client: AUM below it, consent L2

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def decide(
        self,
        client: str,
        *,
        key: str | None = None,
        proof_id: str | None = None,
        purpose: str = "investment_advice",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "client_id": client,
            "purpose": purpose,
            "categories": [AUM],
            "stage": STAGE,
        }
        if proof_id is not None:
            body["proof_id"] = proof_id
        r = self.http.post("/v1/decisions", json=body, headers=self.auth(key or self.advisory))
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer

    def proof_request(self, client: str) -> dict[str, Any]:
        answer = self.decide(client)
        assert answer["reason_code"] == "proof_required", answer
        request: dict[str, Any] = answer["proof_request"]
        return request

    def prove(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.services.zk.prove(request["request_id"])

    def verify(self, envelope: Any, key: str | None = None) -> dict[str, Any]:
        r = self.http.post(
            "/v1/proofs:verify", json={"proof": envelope}, headers=self.auth(key or self.advisory)
        )
        assert r.status_code == 200, r.text
        verdict: dict[str, Any] = r.json()
        return verdict

    def verified_proof_id(self, client: str) -> str:
        verdict = self.verify(self.prove(self.proof_request(client)))
        assert verdict["valid"], verdict
        return str(verdict["proof_id"])

    def entries(self, start: int = 0) -> list[tuple[int, str, str | None, dict[str, Any]]]:
        out = []
        for stored in self.services.custos.ledger.entries(start):
            e = decode_entry(stored.leaf)
            out.append((stored.index, e.type, e.subject, dict(e.body)))
        return out

    def size(self) -> int:
        return self.services.custos.ledger.size()


def _client(services: Services, aum: int) -> str:
    registry = services.custos.registry
    client = registry.register_client()
    registry.collect(
        client,
        {
            "user.name": "Test Client",
            AUM: aum,
            "user.demographic.date_of_birth": "1961-04-30",
            "user.financial.risk_questionnaire": [4, 4, 5, 3, 4, 5, 4, 4, 3, 5],
        },
        by="compliance",
    )
    registry.grant(client, 2, PURPOSES)
    return client


def open_flow(database_url: str, tmp_path: Path) -> Iterator[Flow]:
    clock = SimulatedClock(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    settings = api_settings(
        ledger=ledger_settings(database_url=database_url, data_dir=tmp_path / "keys")
    )
    services = build_services(settings, clock)
    accounts = services.accounts
    now = clock()
    rich, poor = _client(services, RICH_AUM), _client(services, POOR_AUM)
    services.zk.desk.attest(rich)
    services.zk.desk.attest(poor)
    advisory = accounts.create_app("advisory", "advice desk", now).key
    app = create_app(settings, clock=clock, services=services, checkpointing=False)
    with TestClient(app, raise_server_exceptions=False) as http:
        yield Flow(
            http=http,
            services=services,
            clock=clock,
            advisory=advisory,
            advisory_app=accounts.authenticate(advisory),
            risk=accounts.create_app("risk", "risk desk", now).key,
            compliance=accounts.create_app("compliance", "kyc desk", now).key,
            rich=rich,
            poor=poor,
        )


@pytest.fixture
def flow(database_url: str, tmp_path: Path) -> Iterator[Flow]:
    yield from open_flow(database_url, tmp_path)
