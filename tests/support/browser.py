"""The real app served by uvicorn on a loopback port and headless Chromium, for the
end-to-end tests of every package (registered once for the whole run by tests/conftest.py:
Playwright's sync API allows one instance per thread, so the session's browser must be one
fixture, not a copy per test package)."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from api.settings import api_settings
from api.state import Services, build_services
from consent_ledger.settings import ledger_settings
from policies.service import DecisionAsk

__all__ = [
    "DESKTOP",
    "PHONE",
    "STANDARD_PURPOSES",
    "LiveServer",
    "add_usage",
    "browser",
    "live_server",
    "open_page",
    "page",
    "screenshot",
    "sign_in",
]

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
