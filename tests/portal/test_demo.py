"""`make run` (`custos demo serve`): an interrupted first start starts again cleanly, and
the demo sign-ins it prints show the portal's main flows.

Interruptions are simulated by raising KeyboardInterrupt (what Ctrl-C raises) from inside
a step, never by timing; uvicorn is replaced by a stub that records the app and returns."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api import cli
from api.demo import ensure_demo, ensure_seeded, seed_state
from api.settings import api_settings
from api.state import Services, build_services
from consent_ledger.accounts import AccountStore
from consent_ledger.errors import InvalidRequest
from consent_ledger.registry import ConsentRegistry
from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings

CLIENTS = 30


class Interrupted(KeyboardInterrupt):
    """The simulated Ctrl-C."""


def _interrupt_after(calls: int, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, but the call after the first ``calls`` raises instead of running."""
    made = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal made
        if made >= calls:
            raise Interrupted
        made += 1
        return real(*args, **kwargs)

    return wrapper


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """uvicorn.run replaced: the apps demo serve would have served, closed afterwards."""
    apps: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **_: apps.append(app))
    yield apps
    for app in apps:
        app.state.services.close()


def _serve(tmp_path: Path) -> None:
    cli.demo_serve(
        db=f"sqlite:///{tmp_path / 'custos.db'}",
        data_dir=tmp_path / "keys",
        host="127.0.0.1",
        port=8000,
        clients=CLIENTS,
    )


def _services(tmp_path: Path) -> Services:
    return build_services(
        api_settings(
            ledger=ledger_settings(
                database_url=f"sqlite:///{tmp_path / 'custos.db'}", data_dir=tmp_path / "keys"
            )
        )
    )


def _client_count(services: Services) -> int:
    with services.custos.db.read() as tx:
        return int(tx.one("SELECT COUNT(*) FROM clients")[0])


def _assert_logins_work(services: Services, creds: dict[str, Any]) -> None:
    for key in [*creds["apps"].values(), creds["auditor"]]:
        services.accounts.authenticate(key)
    for client in creds["clients"]:
        principal = services.accounts.check_password(client["username"], client["password"])
        assert principal.client_id == client["client_id"]
        assert services.accounts.authenticate(client["token"]).client_id == client["client_id"]


def test_a_first_start_interrupted_while_seeding_starts_again_cleanly(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    served: list[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C in the middle of the seed leaves no half-seeded database where the service
    looks for one: the next start seeds the whole population and serves it."""
    monkeypatch.setattr(
        ConsentRegistry, "grant", _interrupt_after(CLIENTS // 3, ConsentRegistry.grant)
    )
    with pytest.raises(Interrupted):
        _serve(tmp_path)
    assert not served
    monkeypatch.undo()
    monkeypatch.setattr("uvicorn.run", lambda app, **_: served.append(app))
    _serve(tmp_path)
    assert len(served) == 1
    services = served[0].state.services
    assert _client_count(services) == CLIENTS
    assert seed_state(services.custos) == "complete"
    assert not (tmp_path / "custos.db.seeding").exists()
    creds = json.loads((tmp_path / "keys" / "demo-credentials.json").read_text())
    _assert_logins_work(services, creds)
    assert "demo1 / custos-demo-1" in capsys.readouterr().out


def test_a_killed_seed_leaves_nothing_that_stops_the_next_start(tmp_path: Path) -> None:
    """A kill (no clean-up runs) leaves the staging file and its WAL behind; the next start
    removes them and seeds in full."""
    settings = ledger_settings(
        database_url=f"sqlite:///{tmp_path / 'custos.db'}", data_dir=tmp_path / "keys"
    )
    (tmp_path / "custos.db.seeding").write_bytes(b"half a database")
    (tmp_path / "custos.db.seeding-wal").write_bytes(b"half a log")
    summary = ensure_seeded(settings, 5)
    assert summary is not None and len(summary.clients) == 5
    assert not list(tmp_path.glob("custos.db.seeding*"))
    assert ensure_seeded(settings, 5) is None  # seeded once, never again


def test_a_database_whose_seed_never_finished_is_refused(tmp_path: Path) -> None:
    """Where the seed cannot be staged (PostgreSQL), a start that finds it marked started
    but not complete refuses with what to do, instead of serving half a population."""
    settings = ledger_settings(
        database_url=f"sqlite:///{tmp_path / 'custos.db'}", data_dir=tmp_path / "keys"
    )
    custos = open_custos(settings)
    try:
        with custos.db.write() as tx:
            tx.execute("INSERT INTO custos_meta (key, value) VALUES ('demo_seed', 'started')")
    finally:
        custos.close()
    with pytest.raises(InvalidRequest, match="interrupted"):
        ensure_seeded(settings, 5)


def test_a_first_start_killed_after_the_first_demo_login_starts_again(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    served: list[Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Killed after the first demo sign-in was created (so no credentials file), the next
    start issues the demo keys again instead of failing on 'username taken', and every
    key and password it prints works."""
    monkeypatch.setattr(
        AccountStore,
        "create_client_login",
        _interrupt_after(1, AccountStore.create_client_login),
    )
    with pytest.raises(Interrupted):
        _serve(tmp_path)
    assert not (tmp_path / "keys" / "demo-credentials.json").exists()
    monkeypatch.undo()
    monkeypatch.setattr("uvicorn.run", lambda app, **_: served.append(app))
    _serve(tmp_path)
    services = served[0].state.services
    creds = json.loads((tmp_path / "keys" / "demo-credentials.json").read_text())
    assert [c["username"] for c in creds["clients"]] == ["demo1", "demo2", "demo3"]
    _assert_logins_work(services, creds)
    out = capsys.readouterr().out
    assert "error" not in out and "demo3 / custos-demo-3" in out
    # A later start reuses the file as it is: no new keys.
    first = creds["clients"][0]["token"]
    _serve(tmp_path)
    assert (
        json.loads((tmp_path / "keys" / "demo-credentials.json").read_text())["clients"][0]["token"]
        == first
    )


def test_a_stale_credentials_file_is_replaced(tmp_path: Path) -> None:
    """A file whose keys no longer work (its database was replaced, or it was cut short)
    is replaced by working keys."""
    settings = ledger_settings(
        database_url=f"sqlite:///{tmp_path / 'custos.db'}", data_dir=tmp_path / "keys"
    )
    ensure_seeded(settings, 12)
    path = tmp_path / "keys" / "demo-credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"apps": {"advisory": "cus_app_x.y"}, "auditor": "cus_auditor_')
    services = _services(tmp_path)
    try:
        creds = ensure_demo(services)
        _assert_logins_work(services, creds)
    finally:
        services.close()
    assert path.stat().st_mode & 0o777 == 0o600


def test_demo_sign_ins_show_the_main_flows(
    tmp_path: Path, served: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The three printed sign-ins are, in order: a client at level 2 who can upgrade, one
    with marketing switched on, one whose consent ends by itself (not within two weeks);
    each printed with a line saying so."""
    _serve(tmp_path)
    services: Services = served[0].state.services
    creds = json.loads((tmp_path / "keys" / "demo-credentials.json").read_text())
    upgrade, marketing, expiring = creds["clients"]
    registry, now = services.custos.registry, services.clock()
    found = [registry.current(c["client_id"]) for c in (upgrade, marketing, expiring)]
    consents = [c for c in found if c is not None and c.is_active(now)]
    assert len(consents) == 3
    assert consents[0].level == 2
    assert "marketing" in consents[1].purposes
    ends = consents[2].expires_at
    assert ends is not None and (ends - now).days >= 14
    assert len({c["client_id"] for c in creds["clients"]}) == 3
    out = capsys.readouterr().out
    assert "upgrade" in upgrade["about"] and "marketing switched on" in marketing["about"]
    assert ends.strftime("%Y-%m-%d") in expiring["about"]
    for client in creds["clients"]:
        assert f"{client['username']} / {client['password']}   {client['about']}" in out
