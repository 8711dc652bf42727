"""Fixtures for the portal: an in-process app for unit tests, and the real app served by
uvicorn on a loopback port, driven by headless Chromium, for end-to-end tests."""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import api_settings
from api.state import Services, build_services
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock
from policies.service import DecisionAsk

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
STANDARD_PURPOSES = ["kyc", "suitability", "investment_advice", "marketing"]


def csrf_from(html: str) -> str:
    """The CSRF token a page embeds in its forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def add_usage(services: Services, client_id: str) -> None:
    """A little history for the trail: decisions by two departments, allowed and denied."""
    now = services.clock()
    keys = {
        dept: services.accounts.create_app(dept, f"{dept} desk", now).key
        for dept in ("advisory", "compliance")
    }
    apps = {dept: services.accounts.authenticate(key) for dept, key in keys.items()}
    services.decisions.decide(
        apps["advisory"],
        [
            DecisionAsk(client_id, "investment_advice", ("user.financial.holdings_summary",)),
            DecisionAsk(client_id, "investment_advice", ("user.demographic.family_members",)),
        ],
    )
    services.decisions.decide(
        apps["compliance"], [DecisionAsk(client_id, "kyc", ("user.government_id",))]
    )


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


# -- end-to-end tests: the real server and a real browser ---------------------------------


@dataclass
class LiveServer:
    url: str
    services: Services
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def new_client(self, prefix: str = "client") -> tuple[str, str, str]:
        """A new client with an L2 consent, some usage and a login: (client id, user, password)."""
        registry = self.services.custos.registry
        cid = registry.register_client()
        registry.grant(cid, 2, STANDARD_PURPOSES)
        add_usage(self.services, cid)
        username = f"{prefix}{next(self._names)}"
        password = f"{username}-password"
        self.services.accounts.create_client_login(cid, username, password, self.services.clock())
        return cid, username, password


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app under uvicorn on a free loopback port, on a temporary SQLite database."""
    tmp = tmp_path_factory.mktemp("portal-live")
    settings = api_settings(
        ledger=ledger_settings(database_url=f"sqlite:///{tmp / 'custos.db'}", data_dir=tmp / "keys")
    )
    services = build_services(settings)
    app = create_app(settings, services=services, checkpointing=False)
    sock = _free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the portal server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", services)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright; Playwright's own browser download cannot
    reach its servers from here."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed: run `bash scripts/browser.sh install`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Any, *, viewport: dict[str, int] = DESKTOP, locale: str = "en-GB") -> Any:
    context = browser.new_context(viewport=viewport, locale=locale, accept_downloads=True)
    context.set_default_timeout(30_000)
    return context.new_page()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh desktop-sized page (its own cookies) in English."""
    opened = open_page(browser)
    try:
        yield opened
    finally:
        opened.context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under artifacts/screenshots for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/portal/sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal/consent")
