"""Fuzz the whole OpenAPI surface with schemathesis: no 5xx, no response off its schema.

Each operation is called with the key of the role it is for (apps, auditors, clients,
analysts), so the fuzzer reaches the handlers rather than stopping at 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.settings import api_settings
from api.state import build_services
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock

_KEYS: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    clock = SimulatedClock(datetime(2026, 6, 1, tzinfo=UTC))
    settings = api_settings(
        ledger=ledger_settings(database_url=f"sqlite:///{root / 'f.db'}", data_dir=root / "k")
    )
    services = build_services(settings, clock)
    reg, acc = services.custos.registry, services.accounts
    cid = reg.register_client()
    reg.grant(cid, 2, ["kyc", "investment_advice"])
    _KEYS["app"] = acc.create_app("advisory", "fuzz app", clock()).key
    _KEYS["auditor"] = acc.create_auditor("fuzz auditor", clock()).key
    _KEYS["client"] = acc.create_client_login(cid, "fuzz", None, clock()).key
    _KEYS["analyst"] = acc.create_analyst(
        "fuzz analyst", "research", "clients", "1000", "0", clock()
    ).key
    app = create_app(settings, clock=clock, services=services, checkpointing=False)
    yield app
    services.close()


def _role(path: str) -> str:
    if path.startswith("/v1/me"):
        return "client"
    if path.startswith(("/v1/audit", "/v1/ledger/proofs", "/v1/ledger/entries")):
        return "auditor"
    if path.startswith("/v1/stats"):
        return "analyst"
    return "app"


_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.slow
def test_api_conforms_to_its_schema(fuzz_app: Any) -> None:
    """Property: any schema-shaped request to any operation gets a documented, non-5xx
    answer that matches its schema (schemathesis strategies, driven by hypothesis).

    The schemathesis pytest plugin does not run under pytest 9, so each operation's
    strategy is driven directly."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            key = _KEYS[_role(case.path)]
            response = case.call(headers={"Authorization": f"Bearer {key}"})
            case.validate_response(response, checks=_CHECKS)

        run()
