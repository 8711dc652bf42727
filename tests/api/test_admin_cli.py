"""Operator commands: creating accounts and rotating keys."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from consent_ledger.encoding import decode_entry
from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings

runner = CliRunner()


def _args(tmp_path: Path) -> list[str]:
    return ["--db", f"sqlite:///{tmp_path / 'c.db'}", "--data-dir", str(tmp_path / "k")]


def test_apps_and_auditors_get_keys_once(tmp_path: Path) -> None:
    """`apps create` prints a key bound to a department; an unknown department is refused."""
    r = runner.invoke(
        app, ["apps", "create", "--department", "risk", "--name", "pm", *_args(tmp_path)]
    )
    assert r.exit_code == 0, r.output
    assert "cus_app_" in r.stdout
    r = runner.invoke(
        app, ["apps", "create", "--department", "casino", "--name", "x", *_args(tmp_path)]
    )
    assert r.exit_code == 1 and "department 'casino'" in r.stderr
    r = runner.invoke(app, ["auditors", "create", "--name", "kpmg", *_args(tmp_path)])
    assert r.exit_code == 0 and "cus_auditor_" in r.stdout


def test_master_key_rotation_rewraps_and_is_recorded(tmp_path: Path) -> None:
    """After --master, every client's values still decrypt, under a new key file."""
    settings = ledger_settings(
        database_url=f"sqlite:///{tmp_path / 'c.db'}", data_dir=tmp_path / "k"
    )
    custos = open_custos(settings)
    cid = custos.registry.register_client()
    custos.registry.collect(cid, {"user.name": "Rotating Person"}, by="compliance")
    custos.close()
    old_key = (tmp_path / "k" / "master.key").read_bytes()
    r = runner.invoke(app, ["keys", "rotate", "--master", *_args(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "1 client keys re-wrapped" in r.stdout
    assert (tmp_path / "k" / "master.key").read_bytes() != old_key
    custos = open_custos(settings)
    try:
        assert custos.registry.read_values(cid, ["user.name"]) == {"user.name": "Rotating Person"}
        types = [decode_entry(e.leaf).type for e in custos.ledger.entries()]
        assert types[-1] == "key_rotated"
    finally:
        custos.close()
    r = runner.invoke(app, ["keys", "rotate", *_args(tmp_path)])
    assert r.exit_code == 2 and "exactly one" in r.stderr
