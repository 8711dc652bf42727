"""Key files: the vault's master key and the checkpoint signing key.

Both are generated on first use with mode 0600 under the data directory, never in the
database and never committed: a stolen database alone reveals no personal value and
cannot be re-signed.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from consent_ledger.errors import CustosError
from consent_ledger.note import NoteError, NoteSigner

if TYPE_CHECKING:
    from consent_ledger.runtime import Custos

__all__ = [
    "KeyFileError",
    "load_or_create_master_key",
    "load_or_create_signer",
    "rotate_master_key",
]

_MASTER_KEY_BYTES = 32


class KeyFileError(CustosError):
    code = "key_file_invalid"


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL: two processes starting at once must not both create (and diverge on) a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())


def load_or_create_master_key(path: Path) -> bytes:
    if not path.exists():
        _write_secret(path, base64.b64encode(secrets.token_bytes(_MASTER_KEY_BYTES)).decode())
    try:
        key = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
    except (ValueError, OSError) as exc:
        raise KeyFileError(f"{path}: not a base64 master key") from exc
    if len(key) != _MASTER_KEY_BYTES:
        raise KeyFileError(f"{path}: master key must be {_MASTER_KEY_BYTES} bytes")
    return key


def load_or_create_signer(path: Path, name: str) -> NoteSigner:
    if not path.exists():
        _write_secret(path, NoteSigner.generate(name).private_key_string())
    try:
        signer = NoteSigner.from_private_key_string(path.read_text(encoding="ascii").strip())
    except (NoteError, OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: not a signed-note private key") from exc
    if signer.name != name:
        raise KeyFileError(
            f"{path}: key is named {signer.name!r} but the ledger origin is {name!r}"
        )
    return signer


def rotate_master_key(custos: Custos) -> int:
    """Re-wrap every client data key under a fresh master key, atomically, then replace the
    key file (the old one is kept beside it until the operator removes it)."""
    from consent_ledger.ledger import NewEntry
    from consent_ledger.vault import Vault

    path = custos.settings.master_key_path
    old = Vault(load_or_create_master_key(path))
    new_key = secrets.token_bytes(_MASTER_KEY_BYTES)
    new = Vault(new_key)
    staged = path.with_suffix(".new")
    staged.unlink(missing_ok=True)
    _write_secret(staged, base64.b64encode(new_key).decode())
    with custos.db.write() as tx:
        count = old.rewrap_all(tx, new)
        custos.ledger.append(tx, [NewEntry("key_rotated", None, {"kind": "master", "keys": count})])
    path.replace(path.with_suffix(".old"))
    staged.replace(path)
    custos.registry.vault = new
    return count
