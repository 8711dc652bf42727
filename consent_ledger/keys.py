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

from consent_ledger.note import NoteError, NoteSigner
from custos_errors import CustosError

__all__ = [
    "KeyFileError",
    "commit_master_key",
    "load_or_create_master_key",
    "load_or_create_signer",
    "stage_master_key",
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


def stage_master_key(path: Path) -> tuple[bytes, Path]:
    """A fresh master key, written beside ``path`` as ``<name>.new`` (0600) until the caller
    has re-wrapped every client key under it and calls ``commit_master_key``."""
    key = secrets.token_bytes(_MASTER_KEY_BYTES)
    staged = path.with_suffix(".new")
    staged.unlink(missing_ok=True)
    _write_secret(staged, base64.b64encode(key).decode())
    return key, staged


def commit_master_key(path: Path, staged: Path) -> None:
    """Put the staged key in place; the old one is kept beside it until the operator
    removes it."""
    path.replace(path.with_suffix(".old"))
    staged.replace(path)
