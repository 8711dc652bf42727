"""`custos analysts create | list`, and `custos ledger verify` over releases."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from api.settings import api_settings
from api.state import build_services
from consent_ledger.settings import ledger_settings
from privacy.dp import StatQuery

runner = CliRunner()


def _args(tmp_path: Path) -> list[str]:
    return ["--db", f"sqlite:///{tmp_path / 'c.db'}", "--data-dir", str(tmp_path / "k")]


def test_create_prints_the_key_once_and_list_shows_the_budget(tmp_path: Path) -> None:
    r = runner.invoke(
        app, ["analysts", "create", "--name", "risk study", "--epsilon", "2.5", *_args(tmp_path)]
    )
    assert r.exit_code == 0, r.output
    found = re.search(r"analyst ([0-9a-f]{16}) .*: (cus_analyst_\S+)", r.stdout)
    assert found is not None
    analyst_id, key = found.groups()
    settings = api_settings(
        ledger=ledger_settings(
            database_url=f"sqlite:///{tmp_path / 'c.db'}", data_dir=tmp_path / "k"
        )
    )
    services = build_services(settings)
    try:
        registry = services.custos.registry
        client = registry.register_client()
        registry.collect(client, {"user.demographic.date_of_birth": "1970-01-01"}, "compliance")
        registry.grant(client, 1, ["research_analytics"])
        analyst = services.accounts.authenticate(key)
        services.stats.release(analyst, StatQuery("clients", "count", epsilon=1.0))
    finally:
        services.close()
    r = runner.invoke(app, ["analysts", "list", "--db", f"sqlite:///{tmp_path / 'c.db'}"])
    assert r.exit_code == 0, r.output
    header, row = r.stdout.splitlines()
    assert header.split() == [
        "ID",
        "NAME",
        "DEPARTMENT",
        "DATASET",
        "TOTAL",
        "SPENT",
        "REMAINING",
        "RELEASES",
        "REVOKED",
    ]
    assert row.split() == [
        analyst_id,
        "risk",
        "study",
        "research",
        "clients",
        "2.5",
        "1",
        "1.5",
        "1",
        "-",
    ]
    assert key not in r.stdout
    r = runner.invoke(app, ["ledger", "verify", *_args(tmp_path)])
    assert r.exit_code == 0 and r.stdout.startswith("ok:"), r.output


def test_create_refuses_bad_grants(tmp_path: Path) -> None:
    for extra, message in (
        (["--epsilon", "0"], "epsilon must be a finite number above 0"),
        (["--epsilon", "nan"], "epsilon must be a finite number above 0"),
        (["--epsilon", "1", "--dataset", "trades"], "dataset 'trades' is not one of"),
        (["--epsilon", "1", "--department", "advisory"], "department 'advisory' may not query"),
        (["--epsilon", "1", "--delta", "1"], "delta must be at least 0 and below 1"),
    ):
        r = runner.invoke(app, ["analysts", "create", "--name", "x", *extra, *_args(tmp_path)])
        assert r.exit_code == 1 and message in r.stderr, (extra, r.output)


def test_an_analyst_key_is_revoked_not_rotated(tmp_path: Path) -> None:
    """A rotation would start a new id, so a new budget: only `analysts create` does that."""
    r = runner.invoke(
        app, ["analysts", "create", "--name", "a", "--epsilon", "1", *_args(tmp_path)]
    )
    found = re.search(r"analyst ([0-9a-f]{16})", r.stdout)
    assert found is not None
    r = runner.invoke(app, ["keys", "rotate", "--account", found.group(1), *_args(tmp_path)])
    assert r.exit_code == 1 and "revoked, not rotated" in r.stderr
    r = runner.invoke(app, ["keys", "revoke", "--account", found.group(1), *_args(tmp_path)])
    assert r.exit_code == 0, r.output
