"""Consent changes and personal values through the registry, on both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from consent_ledger.encoding import decode_entry
from consent_ledger.errors import (
    ConsentNotFound,
    InvalidRequest,
    UnknownClient,
    UnknownName,
    VaultError,
)
from consent_ledger.runtime import Custos
from policies.seed import SimulatedClock

PERSONAL = {
    "user.name": "Mei Lindqvist-Zhou",
    "user.contact.email": "mei.lz.unique-marker@example.com",
    "user.government_id": "110101199003074512",
}


def _types(custos: Custos) -> list[str]:
    return [decode_entry(e.leaf).type for e in custos.ledger.entries()]


def test_lifecycle_lands_on_the_ledger(custos: Custos, clock: SimulatedClock) -> None:
    """Grant, upgrade, purpose revoke, downgrade and revoke each add exactly one entry."""
    reg = custos.registry
    cid = reg.register_client()
    reg.grant(cid, 2, ["kyc", "marketing"], clock.now + timedelta(days=365))
    reg.change_level(cid, 3)
    reg.revoke(cid, ["marketing"])
    reg.change_level(cid, 1)
    reg.revoke(cid)
    assert _types(custos) == [
        "client_registered",
        "consent_granted",
        "consent_upgraded",
        "consent_purposes_changed",
        "consent_downgraded",
        "consent_revoked",
    ]
    assert reg.current(cid) is None


def test_bad_requests_change_nothing(custos: Custos, clock: SimulatedClock) -> None:
    """Invalid level, unknown purpose, past expiry, revoke of nothing: errors, no entries."""
    reg = custos.registry
    cid = reg.register_client()
    size = custos.ledger.size()
    with pytest.raises(UnknownName):
        reg.grant(cid, 7, ["kyc"])
    with pytest.raises(UnknownName):
        reg.grant(cid, 1, ["lottery"])
    with pytest.raises(InvalidRequest):
        reg.grant(cid, 1, ["kyc"], clock.now - timedelta(days=1))
    with pytest.raises(ConsentNotFound):
        reg.revoke(cid)
    with pytest.raises(UnknownClient):
        reg.grant("c_nobody", 1, ["kyc"])
    with pytest.raises(UnknownName):
        reg.collect(cid, {"user.shoe_size": 42}, by="advisory")
    assert custos.ledger.size() == size
    assert reg.current(cid) is None


def test_expiry_is_recorded_lazily_and_by_sweep(custos: Custos, clock: SimulatedClock) -> None:
    """A lapsed consent is written as expired before the next change, or by expire_due."""
    reg = custos.registry
    a, b = reg.register_client(), reg.register_client()
    reg.grant(a, 2, ["kyc"], clock.now + timedelta(hours=1))
    reg.grant(b, 2, ["kyc"], clock.now + timedelta(hours=1))
    clock.now += timedelta(hours=2)
    reg.grant(a, 1, ["kyc"])
    assert _types(custos)[-2:] == ["consent_expired", "consent_granted"]
    assert reg.expire_due() == 1
    assert _types(custos)[-1] == "consent_expired"
    assert reg.expire_due() == 0


def test_ledger_holds_no_personal_values(custos: Custos) -> None:
    """Collected values go to the vault; the ledger keeps only category names."""
    reg = custos.registry
    cid = reg.register_client()
    reg.collect(cid, PERSONAL, by="compliance")
    assert reg.read_values(cid, PERSONAL) == PERSONAL
    assert reg.read_values(cid, ["user.name"]) == {"user.name": PERSONAL["user.name"]}
    for e in custos.ledger.entries():
        for value in PERSONAL.values():
            assert value.encode() not in e.leaf


def test_erasure_destroys_the_key_and_keeps_the_chain(custos: Custos) -> None:
    """After erasure values cannot be read, the client is unknown, the ledger still verifies."""
    from consent_ledger.verify import verify_ledger

    reg = custos.registry
    cid = reg.register_client()
    reg.collect(cid, PERSONAL, by="compliance")
    reg.grant(cid, 1, ["kyc"])
    reg.erase(cid)
    with pytest.raises(UnknownClient):
        reg.read_values(cid, PERSONAL)
    with pytest.raises(VaultError), custos.db.read() as tx:
        custos.registry.vault.get(tx, cid, PERSONAL)
    assert _types(custos)[-1] == "data_erased"
    custos.ledger.checkpoint()
    assert verify_ledger(custos.db.url, custos.ledger.signer.verifier_key()).size == 4


def test_erased_client_leaves_no_bytes_in_the_sqlite_files(tmp_path: Path, data_dir: Path) -> None:
    """Scan the database file and WAL: neither plaintext nor the wrapped key survives."""
    from consent_ledger.runtime import open_custos
    from consent_ledger.settings import ledger_settings

    db_path = tmp_path / "scan.db"
    custos = open_custos(ledger_settings(database_url=f"sqlite:///{db_path}", data_dir=data_dir))
    try:
        reg = custos.registry
        keep = reg.register_client()
        reg.collect(keep, {"user.name": "Keeper Person"}, by="compliance")
        cid = reg.register_client()
        reg.collect(cid, PERSONAL, by="compliance")
        with custos.db.read() as tx:
            (wrapped,) = tx.one("SELECT wrapped_key FROM vault_keys WHERE client_id = ?", (cid,))
            cts = [
                bytes(r[0])
                for r in tx.all("SELECT ciphertext FROM vault_values WHERE client_id = ?", (cid,))
            ]
        reg.erase(cid)
        blobs = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("scan.db"))
        for value in PERSONAL.values():
            assert value.encode() not in blobs
        assert bytes(wrapped) not in blobs
        for ct in cts:
            assert ct[:16] not in blobs
        engine = create_engine(f"sqlite:///{db_path}")
        with engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT COUNT(*) FROM vault_keys WHERE client_id = :c"), {"c": cid}
                ).scalar()
                == 0
            )
        engine.dispose()
        assert reg.read_values(keep, ["user.name"]) == {"user.name": "Keeper Person"}
    finally:
        custos.close()
