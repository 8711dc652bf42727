"""Assembles the ledger's parts from settings: database, keys, ledger, vault, registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from consent_ledger.catalogue import Catalogue, load_catalogue
from consent_ledger.db import Database, open_database
from consent_ledger.entries import KeyRotated
from consent_ledger.keys import (
    KeyFileError,
    commit_master_key,
    load_or_create_master_key,
    load_or_create_signer,
    stage_master_key,
)
from consent_ledger.ledger import Ledger, utc_now
from consent_ledger.registry import ConsentRegistry
from consent_ledger.settings import LedgerSettings
from consent_ledger.vault import Vault

__all__ = ["Custos", "open_custos"]


@dataclass
class Custos:
    settings: LedgerSettings
    db: Database
    ledger: Ledger
    registry: ConsentRegistry
    catalogue: Catalogue

    def close(self) -> None:
        self.db.close()

    def rotate_master_key(self) -> int:
        """Re-wrap every client data key under a fresh master key, atomically (a ledger
        entry in the same transaction), then replace the key file; returns the keys
        re-wrapped."""
        path = self.settings.master_key_path
        old = Vault(load_or_create_master_key(path))
        new_key, staged = stage_master_key(path)
        new = Vault(new_key)
        with self.db.write() as tx:
            count = old.rewrap_all(tx, new)
            self.ledger.append(tx, [KeyRotated("master", keys=count).entry()])
        commit_master_key(path, staged)
        self.registry.vault = new
        return count


def _bind_verifier_key(db: Database, verifier_key: str) -> None:
    """Record the verifier key on first use; refuse a key file that signs for another log."""
    with db.write() as tx:
        row = tx.one("SELECT value FROM custos_meta WHERE key = 'verifier_key'")
        if row is None:
            tx.execute(
                "INSERT INTO custos_meta (key, value) VALUES ('verifier_key', ?)", (verifier_key,)
            )
        elif row[0] != verifier_key:
            raise KeyFileError(
                "the signing key file does not match the key this database's checkpoints "
                "were signed with; point CUSTOS_DATA_DIR at that installation's keys"
            )


def open_custos(
    settings: LedgerSettings,
    *,
    clock: Callable[[], datetime] = utc_now,
    catalogue: Catalogue | None = None,
) -> Custos:
    """Open (creating or migrating the schema if needed) a Custos installation."""
    db = open_database(settings.database_url)
    try:
        db.migrate()
        signer = load_or_create_signer(settings.signing_key_path, settings.ledger_origin)
        _bind_verifier_key(db, signer.verifier_key())
        vault = Vault(load_or_create_master_key(settings.master_key_path))
    except BaseException:
        db.close()
        raise
    cat = catalogue or load_catalogue()
    ledger = Ledger(db, signer, clock)
    return Custos(settings, db, ledger, ConsentRegistry(ledger, vault, cat), cat)
