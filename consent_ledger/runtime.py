"""Assembles the ledger's parts from settings: database, keys, ledger, vault, registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from consent_ledger.catalogue import Catalogue, load_catalogue
from consent_ledger.db import Database, open_database
from consent_ledger.entries import KeyRotated
from consent_ledger.errors import NotACustosDatabase
from consent_ledger.keys import (
    KeyFileError,
    commit_master_key,
    load_or_create_master_key,
    load_or_create_signer,
    stage_master_key,
)
from consent_ledger.ledger import (
    ConsistencyProof,
    InclusionProof,
    Ledger,
    StoredEntry,
    utc_now,
)
from consent_ledger.note import NoteSigner
from consent_ledger.registry import ConsentRegistry
from consent_ledger.settings import LedgerSettings
from consent_ledger.vault import Vault

__all__ = ["Custos", "LedgerCopy", "LedgerReader", "open_custos", "open_ledger_readonly"]


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


# -- read-only: an auditor's copy of the database, with no key files --------------------


class LedgerReader:
    """The read side of a ledger: entries, sizes, stored checkpoints and proofs.

    None of these reads needs a key, and nothing here can append or sign: the ``Ledger``
    inside is given a throwaway signer, generated in memory and never written anywhere,
    only because its constructor asks for one; no method of this class reaches it.
    """

    def __init__(self, db: Database) -> None:
        self._ledger = Ledger(db, NoteSigner.generate("read-only"))

    def size(self) -> int:
        return self._ledger.size()

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[StoredEntry]:
        return self._ledger.entries(start, end)

    def latest_checkpoint(self) -> tuple[int, str] | None:
        return self._ledger.latest_checkpoint()

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        return self._ledger.inclusion_proof(index, tree_size)

    def consistency_proof(self, old_size: int, tree_size: int | None = None) -> ConsistencyProof:
        return self._ledger.consistency_proof(old_size, tree_size)


@dataclass
class LedgerCopy:
    """A Custos database opened only to read its ledger (``open_ledger_readonly``)."""

    settings: LedgerSettings
    db: Database
    ledger: LedgerReader

    def verifier_key(self) -> str | None:
        """The checkpoint verifier key the database recorded when its signing key was
        first used, or None if it never signed."""
        with self.db.read() as tx:
            row = tx.one("SELECT value FROM custos_meta WHERE key = 'verifier_key'")
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.db.close()


def open_ledger_readonly(settings: LedgerSettings) -> LedgerCopy:
    """Open an existing Custos database to read its ledger: no schema migration, no key
    file read or created (an auditor's copy comes without the firm's keys). Raises
    NotACustosDatabase for a missing file or a database that is not Custos'."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        # Connecting would create an empty file where the auditor mistyped a path.
        raise NotACustosDatabase(f"no SQLite database file at {url.database!r}")
    db = open_database(settings.database_url)
    try:
        db.check_custos()
    except BaseException:
        db.close()
        raise
    return LedgerCopy(settings, db, LedgerReader(db))
