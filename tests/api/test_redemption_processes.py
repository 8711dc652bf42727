"""A withdrawal made through one server process refuses a read in another at once: the
redemption decides again on the database, not on anything a process remembers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api.settings import api_settings
from api.state import build_services
from consent_ledger.settings import ledger_settings
from tests.support.server import free_port, wait_until_healthy

CUSTOS = str(Path(sys.executable).with_name("custos"))
AUM = "user.financial.assets_under_management"


@contextmanager
def _server(db: str, data_dir: Path) -> Iterator[httpx.Client]:
    port = free_port()
    process = subprocess.Popen(
        [CUSTOS, "serve", "--db", db, "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process)
        with httpx.Client(base_url=base, timeout=30) as client:
            yield client
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_withdrawal_and_downgrade_in_one_process_refuse_reads_in_another(
    database_url: str, data_dir: Path
) -> None:
    """Process A decides, process B takes the client's withdrawal (then a downgrade), and A's
    next read and use report under the earlier allow are refused as consent_withdrawn."""
    services = build_services(
        api_settings(ledger=ledger_settings(database_url=database_url, data_dir=data_dir))
    )
    try:
        registry, now = services.custos.registry, services.clock()
        alice = registry.register_client()
        registry.collect(alice, {AUM: 2_500_000}, "compliance")
        registry.grant(alice, 2, ["kyc", "investment_advice"])
        app = {"Authorization": f"Bearer {services.accounts.create_app('advisory', 'a', now).key}"}
        token = services.accounts.create_client_login(alice, "alice", None, now).key
        me = {"Authorization": f"Bearer {token}"}
    finally:
        services.close()

    def decide(a: httpx.Client) -> str:
        r = a.post(
            "/v1/decisions",
            json={"client_id": alice, "purpose": "investment_advice", "categories": [AUM]},
            headers=app,
        )
        assert r.status_code == 200 and r.json()["outcome"] == "allow", r.text
        return str(r.json()["decision_id"])

    def read(a: httpx.Client, decision_id: str) -> httpx.Response:
        return a.get(f"/v1/clients/{alice}/data", params={"decision_id": decision_id}, headers=app)

    with _server(database_url, data_dir) as a, _server(database_url, data_dir) as b:
        first = decide(a)
        assert read(a, first).status_code == 200
        assert b.post("/v1/me/consent/revoke", json={}, headers=me).status_code == 200
        refused = read(a, first)
        assert refused.status_code == 403 and refused.json()["code"] == "consent_withdrawn"
        used = a.post(
            "/v1/events/used",
            json={"decision_id": first, "client_id": alice, "categories": [AUM]},
            headers=app,
        )
        assert used.status_code == 403 and used.json()["code"] == "consent_withdrawn"

        granted = b.post(
            "/v1/me/consent", json={"level": 2, "purposes": ["investment_advice"]}, headers=me
        )
        assert granted.status_code == 201, granted.text
        second = decide(a)
        assert b.patch("/v1/me/consent", json={"level": 1}, headers=me).status_code == 200
        refused = read(a, second)
        assert refused.status_code == 403 and refused.json()["code"] == "consent_withdrawn"
        assert "2500000" not in refused.text
