"""Operator commands: creating accounts and rotating keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from consent_ledger.accounts import AccountStore
from consent_ledger.audit import AuditIndex, TrailQuery
from consent_ledger.encoding import decode_entry
from consent_ledger.entries import KeyRevoked, parse_body
from consent_ledger.errors import Unauthenticated
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


def _created_id(stdout: str, role: str) -> tuple[str, str]:
    """The id and key that `apps create` / `auditors create` printed (on a line of its own:
    under CliRunner the service's log lines share stdout)."""
    match = re.search(rf"^{role} ([0-9a-f]+) .*key, shown once: (cus_{role}_\S+)$", stdout, re.M)
    assert match, stdout
    return match[1], match[2]


def test_create_prints_the_id_and_list_shows_accounts_without_secrets(tmp_path: Path) -> None:
    """`apps create` and `auditors create` print the new account's id (the one in its key);
    `apps list` / `auditors list` show id, name, department, created and revoked, and never
    a key or any part of its secret."""
    r = runner.invoke(
        app, ["apps", "create", "--department", "risk", "--name", "pm desk", *_args(tmp_path)]
    )
    app_id, app_key = _created_id(r.stdout, "app")
    assert app_key.startswith(f"cus_app_{app_id}.")
    r = runner.invoke(app, ["auditors", "create", "--name", "kpmg", *_args(tmp_path)])
    auditor_id, auditor_key = _created_id(r.stdout, "auditor")
    assert auditor_key.startswith(f"cus_auditor_{auditor_id}.")

    r = runner.invoke(app, ["apps", "list", *_args(tmp_path)])
    assert r.exit_code == 0, r.output
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "DEPARTMENT", "CREATED", "REVOKED"]
    assert len(rows) == 1 and rows[0].split()[:4] == [app_id, "pm", "desk", "risk"]
    assert rows[0].split()[-1] == "-"
    assert app_key.split(".")[1] not in r.stdout and auditor_id not in r.stdout
    r = runner.invoke(app, ["auditors", "list", *_args(tmp_path)])
    assert r.exit_code == 0 and auditor_id in r.stdout and "kpmg" in r.stdout
    assert auditor_key.split(".")[1] not in r.stdout and app_id not in r.stdout


def test_keys_revoke_revokes_and_records_it(tmp_path: Path) -> None:
    """`keys revoke --account ID` ends the key at once, lists the account as revoked, and
    writes a key_revoked entry that the export and the audit index read as a typed body;
    revoking again, or an unknown id, exits 1."""
    r = runner.invoke(
        app, ["apps", "create", "--department", "risk", "--name", "pm", *_args(tmp_path)]
    )
    app_id, key = _created_id(r.stdout, "app")
    r = runner.invoke(app, ["keys", "revoke", "--account", app_id, *_args(tmp_path)])
    assert r.exit_code == 0, r.output
    assert f"app account {app_id} revoked; recorded on the ledger" in r.stdout.splitlines()

    r = runner.invoke(app, ["apps", "list", *_args(tmp_path)])
    assert r.stdout.splitlines()[1].split()[-1].startswith("20")  # a revocation time
    r = runner.invoke(app, ["ledger", "export", *_args(tmp_path)])
    assert r.exit_code == 0, r.output
    last = json.loads(r.stdout.splitlines()[-1])
    assert (last["type"], last["subject"]) == ("key_revoked", None)
    assert last["body"] == {"account_id": app_id, "kind": "app"}

    settings = ledger_settings(
        database_url=f"sqlite:///{tmp_path / 'c.db'}", data_dir=tmp_path / "k"
    )
    custos = open_custos(settings)
    try:
        entry = list(custos.ledger.entries())[-1]
        body = parse_body(entry.index, "key_revoked", decode_entry(entry.leaf).body)
        assert body == KeyRevoked(app_id, "app") and body.facts().app_id == app_id
        index = AuditIndex(custos.db)
        index.catch_up()
        trail = index.query(TrailQuery(entry_type="key_revoked"))
        assert [e.index for e in trail] == [entry.index]
        store = AccountStore(custos.ledger, frozenset({"risk"}))
        with pytest.raises(Unauthenticated):
            store.authenticate(key)
    finally:
        custos.close()
    for account in (app_id, "0000000000000000"):
        r = runner.invoke(app, ["keys", "revoke", "--account", account, *_args(tmp_path)])
        assert r.exit_code == 1 and "no active account" in r.stderr
