"""Fixtures for the portal's unit tests: the app in process. The real server and the
browser are tests/support/browser.py's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import api_settings
from api.state import Services, build_services
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock
from tests.support.browser import STANDARD_PURPOSES, add_usage


def csrf_from(html: str) -> str:
    """The CSRF token a page embeds in its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


# -- unit tests: the app in process --------------------------------------------------------


@dataclass
class PortalWorld:
    http: TestClient
    services: Services
    clock: SimulatedClock
    alice: str  # L2 with kyc, suitability, investment_advice, marketing; login alice
    bob: str  # the same consent; login bob
    passwords: dict[str, str] = field(default_factory=dict)

    def sign_in(self, username: str = "alice", client: TestClient | None = None) -> str:
        """Sign in through the form; returns the session's CSRF token."""
        http = client or self.http
        page = http.get("/portal/sign-in")
        response = http.post(
            "/portal/sign-in",
            data={
                "csrf_token": csrf_from(page.text),
                "username": username,
                "password": self.passwords[username],
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return csrf_from(http.get("/portal/consent").text)

    def advance(self, **delta: float) -> None:
        self.clock.now += timedelta(**delta)


def _world(tmp_path: Path, base_url: str, **settings: Any) -> Iterator[PortalWorld]:
    clock = SimulatedClock(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    api = api_settings(
        ledger=ledger_settings(
            database_url=f"sqlite:///{tmp_path / 'custos.db'}", data_dir=tmp_path / "keys"
        ),
        sign_in_attempts_per_minute=3,
        **settings,
    )
    services = build_services(api, clock)
    registry = services.custos.registry
    ids = {}
    passwords = {"alice": "alice-password-1", "bob": "bob-password-2"}
    for name, password in passwords.items():
        cid = registry.register_client()
        registry.grant(cid, 2, STANDARD_PURPOSES)
        services.accounts.create_client_login(cid, name, password, clock())
        ids[name] = cid
    add_usage(services, ids["alice"])
    add_usage(services, ids["bob"])
    app = create_app(api, clock=clock, services=services, checkpointing=False)
    with TestClient(app, base_url=base_url) as http:
        yield PortalWorld(http, services, clock, ids["alice"], ids["bob"], passwords)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[PortalWorld]:
    """The portal in process on a fresh SQLite database, with clients alice and bob."""
    yield from _world(tmp_path, "http://127.0.0.1")


@pytest.fixture
def production_world(tmp_path: Path) -> Iterator[PortalWorld]:
    """The same, configured as production (so cookies must be Secure), over https."""
    yield from _world(
        tmp_path, "https://127.0.0.1", environment="production", session_secret="s" * 40
    )
