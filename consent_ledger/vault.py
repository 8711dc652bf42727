"""The vault: personal values encrypted under a per-client data key.

Each client gets a random 256-bit data key, stored only wrapped (AES-256-GCM) by the master
key from the key file. Each value is AES-256-GCM encrypted under the data key with the
client id and category as associated data, so a ciphertext moved to another row fails to
decrypt. Erasure deletes the wrapped key and every ciphertext (crypto-shredding); with
SQLite's ``secure_delete`` the freed bytes are zeroed too.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consent_ledger.db import Tx
from consent_ledger.errors import VaultError

__all__ = ["Vault"]

_NONCE = 12


def _key_aad(client_id: str) -> bytes:
    return b"custos/vault-key/" + client_id.encode()


def _value_aad(client_id: str, category: str) -> bytes:
    return b"custos/vault-value/" + client_id.encode() + b"\x00" + category.encode()


class Vault:
    def __init__(self, master_key: bytes) -> None:
        self._master = AESGCM(master_key)

    def create_key(self, tx: Tx, client_id: str, now: str) -> None:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(_NONCE)
        wrapped = nonce + self._master.encrypt(nonce, data_key, _key_aad(client_id))
        tx.execute(
            "INSERT INTO vault_keys (client_id, wrapped_key, created_at) VALUES (?, ?, ?)",
            (client_id, wrapped, now),
        )

    def _data_key(self, tx: Tx, client_id: str) -> AESGCM:
        row = tx.one("SELECT wrapped_key FROM vault_keys WHERE client_id = ?", (client_id,))
        if row is None:
            raise VaultError(f"client {client_id} has no vault key (erased or unknown)")
        wrapped = bytes(row[0])
        try:
            key = self._master.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], _key_aad(client_id))
        except InvalidTag as exc:
            raise VaultError(
                f"the vault key of client {client_id} does not open with this master key"
            ) from exc
        return AESGCM(key)

    def put(self, tx: Tx, client_id: str, values: Mapping[str, Any], now: str) -> None:
        aead = self._data_key(tx, client_id)
        rows = []
        for category, value in values.items():
            nonce = secrets.token_bytes(_NONCE)
            ct = aead.encrypt(nonce, orjson.dumps(value), _value_aad(client_id, category))
            rows.append((client_id, category, nonce, ct, now))
        tx.executemany(
            "DELETE FROM vault_values WHERE client_id = ? AND category = ?",
            [(r[0], r[1]) for r in rows],
        )
        tx.executemany(
            "INSERT INTO vault_values (client_id, category, nonce, ciphertext, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    def get(self, tx: Tx, client_id: str, categories: Iterable[str]) -> dict[str, Any]:
        """The stored values of exactly these categories (absent ones are left out)."""
        wanted = sorted(set(categories))
        if not wanted:
            return {}
        aead = self._data_key(tx, client_id)
        marks = ",".join("?" * len(wanted))
        sql = f"SELECT category, nonce, ciphertext FROM vault_values WHERE client_id = ? AND category IN ({marks})"  # noqa: S608, E501 - only ? marks are interpolated
        rows = tx.all(sql, (client_id, *wanted))
        out: dict[str, Any] = {}
        for category, nonce, ct in rows:
            try:
                plain = aead.decrypt(bytes(nonce), bytes(ct), _value_aad(client_id, category))
            except InvalidTag as exc:
                raise VaultError(
                    f"stored value {category} of {client_id} fails to decrypt"
                ) from exc
            out[category] = orjson.loads(plain)
        return out

    def shred(self, tx: Tx, client_id: str) -> None:
        tx.execute("DELETE FROM vault_values WHERE client_id = ?", (client_id,))
        tx.execute("DELETE FROM vault_keys WHERE client_id = ?", (client_id,))

    def rewrap_all(self, tx: Tx, new: Vault) -> int:
        """Unwrap every data key with this master key and wrap it with ``new``'s."""
        rows = tx.all("SELECT client_id, wrapped_key FROM vault_keys")
        for client_id, wrapped in rows:
            w = bytes(wrapped)
            try:
                key = self._master.decrypt(w[:_NONCE], w[_NONCE:], _key_aad(client_id))
            except InvalidTag as exc:
                raise VaultError(f"the vault key of client {client_id} does not open") from exc
            nonce = secrets.token_bytes(_NONCE)
            tx.execute(
                "UPDATE vault_keys SET wrapped_key = ? WHERE client_id = ?",
                (nonce + new._master.encrypt(nonce, key, _key_aad(client_id)), client_id),
            )
        return len(rows)
