"""After erasure no field of the accounts table identifies the person, in any account row
the client ever had, and (SQLite) no byte of the username survives in the database files."""

from __future__ import annotations

from pathlib import Path

from consent_ledger.accounts import ERASED_NAME_PREFIX
from tests.api.conftest import World

# A username of the kind people pick: their own name and birth year.
USERNAME = "wang.xiaoming.1987"


def _sqlite_files(world: World) -> list[Path]:
    path = Path(world.services.custos.db.url.removeprefix("sqlite:///"))
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name)]


def test_erasure_leaves_no_username_in_the_accounts_table(world: World) -> None:
    """POST /v1/me/erasure renames every account of the client (the rotated-away one too)
    to "erased:<account id>", drops the password hash and revokes them; on SQLite the
    username's bytes are in no database file afterwards."""
    accounts, clock = world.services.accounts, world.clock
    cid = world.services.custos.registry.register_client()
    first = accounts.create_client_login(cid, USERNAME, "pw-wang-12345", clock())
    # A rotation leaves the old, revoked row behind under the same username.
    token = accounts.rotate(first.account_id, clock()).key
    assert accounts.check_password(USERNAME, "pw-wang-12345").client_id == cid

    r = world.http.post("/v1/me/erasure", headers=world.auth(token))
    assert r.status_code == 200, r.text

    with world.services.custos.db.read() as tx:
        rows = tx.all(
            "SELECT id, name, password_hash, revoked_at FROM accounts WHERE client_id = ?",
            (cid,),
        )
        assert tx.all("SELECT id FROM accounts WHERE name LIKE ?", (f"%{USERNAME}%",)) == []
    assert len(rows) == 2
    for account_id, name, password_hash, revoked_at in rows:
        assert name == ERASED_NAME_PREFIX + account_id
        assert password_hash is None and revoked_at is not None
    # The username is free again, and signs nobody in.
    assert world.http.get("/v1/me/consent", headers=world.auth(token)).status_code == 401
    if world.services.custos.db.dialect == "sqlite":
        blobs = b"".join(p.read_bytes() for p in _sqlite_files(world))
        assert USERNAME.encode() not in blobs
