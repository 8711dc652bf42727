"""The KYC desk: commits to each provable attribute of a client and signs the commitment.

For every attribute of ``policies/attributes.yaml`` whose category the client's vault
holds, the desk draws a fresh blinding r, commits C = v·G + r·H, signs an attestation of C
with its own Ed25519 key and stores the opening (v, r) encrypted in the client's vault,
beside their other values: erasing the client destroys the openings with them, so no proof
about them can be produced again (crypto-shredding). Each attestation is an
``attestation_issued`` ledger entry, each re-attestation (a new value, a rotated desk key)
``attestation_renewed``; neither holds a value.

The desk's private key is a key file in the data directory (``zk-desk.key``, 0600, like the
ledger's signing key); its verification keys, with the time each was in force, are in the
database (``zk_desk_keys``) and served by ``GET /v1/zk/parameters``. Rotation retires the
old key (its attestations stop verifying) and re-signs every current commitment under the
new one, in one transaction with a ``key_rotated`` entry.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_ledger.db import Tx
from consent_ledger.encoding import format_timestamp
from consent_ledger.entries import Attested, KeyRotated
from consent_ledger.errors import VaultError
from consent_ledger.ledger import NewEntry
from consent_ledger.runtime import Custos
from policies.attributes import AttributeDef, Attributes, default_attributes, encode
from privacy.zk import pedersen
from privacy.zk.attestation import (
    Attestation,
    DeskKey,
    b64url,
    from_b64url,
    key_id_of,
    parse_attestation,
    sign_attestation,
)
from privacy.zk.flow_errors import AttestationMissing

__all__ = ["DEFAULT_VALIDITY", "Desk", "Opening", "attest_all", "opening_category"]

log = structlog.get_logger(__name__)

DEFAULT_VALIDITY = timedelta(days=365)
_KEY_FILE = "zk-desk.key"
# Desk key rotation is recorded as a key_rotated entry of this kind (``account_id`` holds
# the new key's id).
ROTATION_KIND = "zk_desk"


def opening_category(attribute: str) -> str:
    """The vault slot of an attribute's opening (never a catalogue category, so nothing
    that reads catalogue values ever reads it)."""
    return f"zk.opening.{attribute}"


@dataclass(frozen=True)
class Opening:
    value: int
    blinding: int


class _KeyFile:
    """The desk's signing key on disk, written once with O_EXCL and mode 0600."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / _KEY_FILE

    def load_or_create(self) -> Ed25519PrivateKey:
        if not self.path.exists():
            self._write(self.path, Ed25519PrivateKey.generate())
        return self._read(self.path)

    @staticmethod
    def _read(path: Path) -> Ed25519PrivateKey:
        raw = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)

    @staticmethod
    def _write(path: Path, key: Ed25519PrivateKey) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another process created it first; read theirs
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(base64.b64encode(key.private_bytes_raw()).decode() + "\n")
            f.flush()
            os.fsync(f.fileno())

    def stage(self) -> tuple[Ed25519PrivateKey, Path]:
        staged = self.path.with_suffix(".new")
        staged.unlink(missing_ok=True)
        key = Ed25519PrivateKey.generate()
        self._write(staged, key)
        return self._read(staged), staged

    def commit(self, staged: Path) -> None:
        self.path.replace(self.path.with_suffix(".old"))
        staged.replace(self.path)


class Desk:
    def __init__(
        self,
        custos: Custos,
        attributes: Attributes,
        clock: Callable[[], datetime],
        validity: timedelta = DEFAULT_VALIDITY,
    ) -> None:
        self.custos = custos
        self.attributes = attributes
        self.clock = clock
        self.validity = validity
        self._file = _KeyFile(custos.settings.data_dir)
        self._key: Ed25519PrivateKey | None = None

    # -- keys ----------------------------------------------------------------------------

    def _signing_key(self, tx: Tx) -> Ed25519PrivateKey:
        """The key in force, registered in the database on first use. Read from the file
        again when the cached one was rotated out (by another process, say); a file that
        holds neither the key in force nor a new one is refused, as the ledger refuses a
        signing key of another log."""
        if self._key is None:
            self._key = self._file.load_or_create()
        status = self._status(tx, self._key)
        if status == "retired":
            self._key = self._file.load_or_create()
            status = self._status(tx, self._key)
        key_id = key_id_of(self._key.public_key().public_bytes_raw())
        if status == "retired":
            raise AttestationMissing(
                f"the desk key file holds key {key_id}, which was rotated out; point "
                "CUSTOS_DATA_DIR at the installation's current keys"
            )
        if status == "unknown":
            if tx.one("SELECT 1 FROM zk_desk_keys WHERE retired_at IS NULL") is not None:
                raise AttestationMissing(
                    f"the desk key file holds key {key_id}, which is not this installation's "
                    "desk key; point CUSTOS_DATA_DIR at the installation's keys"
                )
            tx.execute(
                "INSERT INTO zk_desk_keys (key_id, public_key, created_at, retired_at)"
                " VALUES (?, ?, ?, NULL)",
                (
                    key_id,
                    b64url(self._key.public_key().public_bytes_raw()),
                    format_timestamp(self.clock()),
                ),
            )
        return self._key

    @staticmethod
    def _status(tx: Tx, key: Ed25519PrivateKey) -> str:
        key_id = key_id_of(key.public_key().public_bytes_raw())
        row = tx.one("SELECT retired_at FROM zk_desk_keys WHERE key_id = ?", (key_id,))
        if row is None:
            return "unknown"
        return "current" if row[0] is None else "retired"

    def keys(self, tx: Tx) -> list[DeskKey]:
        rows = tx.all(
            "SELECT key_id, public_key, created_at, retired_at FROM zk_desk_keys"
            # Retired keys first, then the one in force.
            " ORDER BY retired_at IS NULL, created_at, key_id"
        )
        return [
            DeskKey(
                r[0],
                from_b64url(r[1], "public_key"),
                datetime.fromisoformat(r[2]),
                None if r[3] is None else datetime.fromisoformat(r[3]),
            )
            for r in rows
        ]

    def rotate(self) -> str:
        """A new desk key; the old one is retired and every current attestation re-signed
        under the new one (same commitment and opening). Returns the new key's id."""
        new_key, staged = self._file.stage()
        new_public = new_key.public_key().public_bytes_raw()
        new_id = key_id_of(new_public)
        now = self.clock()
        with self.custos.db.write() as tx:
            self._signing_key(tx)
            stamp = format_timestamp(now)
            tx.execute("UPDATE zk_desk_keys SET retired_at = ? WHERE retired_at IS NULL", (stamp,))
            tx.execute(
                "INSERT INTO zk_desk_keys (key_id, public_key, created_at, retired_at)"
                " VALUES (?, ?, ?, NULL)",
                (new_id, b64url(new_public), stamp),
            )
            entries: list[NewEntry] = [KeyRotated(ROTATION_KIND, account_id=new_id).entry()]
            # An erased client's commitments are left as they are: nobody can open them.
            rows = tx.all(
                "SELECT a.document FROM zk_attestations a JOIN clients c ON c.id = a.client_id"
                " WHERE a.superseded_at IS NULL AND c.erased_at IS NULL"
                " ORDER BY a.client_id, a.attribute"
            )
            for (document,) in rows:
                old = parse_attestation(_json(document))
                attr = self.attributes.get(old.attribute)
                if attr is None:
                    continue  # an attribute the policy no longer declares lapses
                entries.append(self._issue(tx, new_key, old.client, attr, old.commitment, now, old))
            self.custos.ledger.append(tx, entries)
        self._file.commit(staged)
        self._key = new_key
        log.info("zk_desk_key_rotated", key_id=new_id, renewed=len(entries) - 1)
        return new_id

    # -- attestations --------------------------------------------------------------------

    def attest(self, client_id: str, categories: Iterable[str] | None = None) -> list[Attestation]:
        """Commit to and attest each provable attribute the client's vault holds (only
        those of ``categories`` if given), replacing their previous attestations."""
        wanted = None if categories is None else set(categories)
        attrs = [
            a for a in self.attributes.by_name.values() if wanted is None or a.category in wanted
        ]
        if not attrs:
            return []
        now = self.clock()
        issued: list[Attestation] = []
        with self.custos.db.write() as tx:
            self.custos.registry.require_client(tx, client_id)
            key = self._signing_key(tx)
            vault = self.custos.registry.vault
            values = vault.get(tx, client_id, {a.category for a in attrs})
            entries: list[NewEntry] = []
            openings: dict[str, Any] = {}
            for attr in attrs:
                if attr.category not in values:
                    continue
                try:
                    value = encode(attr, values[attr.category])
                except ValueError as exc:
                    # The message names the attribute and the problem, never the value.
                    log.warning("zk_attest_skipped", client_id=client_id, why=str(exc))
                    continue
                blinding = pedersen.random_scalar()
                commitment = pedersen.commit(value % pedersen.ORDER, blinding)
                previous = self._current(tx, client_id, attr.name)
                entries.append(self._issue(tx, key, client_id, attr, commitment, now, previous))
                openings[opening_category(attr.name)] = {"v": value, "r": f"{blinding:x}"}
                issued.append(self.current(tx, client_id, attr.name))
            if openings:
                vault.put(tx, client_id, openings, format_timestamp(now))
            self.custos.ledger.append(tx, entries)
        return issued

    def attest_all(self) -> int:
        """Attest every living client; returns how many attestations were issued."""
        count = 0
        for client_id, _ in self.custos.registry.living_clients():
            count += len(self.attest(client_id))
        return count

    def _issue(
        self,
        tx: Tx,
        key: Ed25519PrivateKey,
        client_id: str,
        attr: AttributeDef,
        commitment: bytes,
        now: datetime,
        previous: Attestation | None,
    ) -> NewEntry:
        att = sign_attestation(
            key,
            client=client_id,
            attribute=attr.name,
            category=attr.category,
            bits=attr.bits,
            commitment=commitment,
            issued=now,
            expires=now + self.validity,
        )
        stamp = format_timestamp(now)
        if previous is not None:
            tx.execute(
                "UPDATE zk_attestations SET superseded_at = ? WHERE attestation_id = ?",
                (stamp, previous.attestation_id),
            )
        tx.execute(
            "INSERT INTO zk_attestations (attestation_id, client_id, attribute, key_id,"
            " issued_at, expires_at, document, superseded_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                att.attestation_id,
                client_id,
                attr.name,
                att.key_id,
                stamp,
                format_timestamp(now + self.validity),
                att.canonical(),
            ),
        )
        return Attested(
            att.attestation_id,
            attr.name,
            attr.category,
            att.key_id,
            att.issued,
            att.expires,
            None if previous is None else previous.attestation_id,
        ).entry(client_id)

    def _current(self, tx: Tx, client_id: str, attribute: str) -> Attestation | None:
        row = tx.one(
            "SELECT document FROM zk_attestations"
            " WHERE client_id = ? AND attribute = ? AND superseded_at IS NULL",
            (client_id, attribute),
        )
        return None if row is None else parse_attestation(_json(row[0]))

    def current(self, tx: Tx, client_id: str, attribute: str) -> Attestation:
        """The client's attestation of the attribute now in force; AttestationMissing if
        there is none."""
        found = self._current(tx, client_id, attribute)
        if found is None:
            raise AttestationMissing(
                f"client {client_id} has no current attestation of {attribute}",
                field="attribute",
            )
        return found

    def is_current(self, tx: Tx, attestation_id: str) -> bool:
        row = tx.one(
            "SELECT superseded_at FROM zk_attestations WHERE attestation_id = ?",
            (attestation_id,),
        )
        return row is not None and row[0] is None

    def opening(self, tx: Tx, client_id: str, attribute: str) -> Opening:
        """The opening of the client's current commitment, from their vault; an erased
        client's is gone with their key."""
        slot = opening_category(attribute)
        try:
            stored = self.custos.registry.vault.get(tx, client_id, [slot])
        except VaultError:
            stored = {}
        raw = stored.get(slot)
        if raw is None:
            raise AttestationMissing(
                f"no opening of {attribute} for client {client_id} (never attested, or erased)",
                field="attribute",
            )
        return Opening(int(raw["v"]), int(raw["r"], 16))


def _json(text: str) -> Any:
    return orjson.loads(text)


def attest_all(custos: Custos) -> int:
    """The desk attests every living client of an installation (``custos demo seed``)."""
    return Desk(custos, default_attributes(custos.catalogue), custos.ledger.clock).attest_all()
