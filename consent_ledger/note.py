"""C2SP signed notes (c2sp.org/signed-note) and checkpoints (c2sp.org/tlog-checkpoint).

Wire-compatible with golang.org/x/mod/sumdb/note for Ed25519 keys:

* key hash    = SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4], big-endian uint32
* verifier key = ``<name>+<8 lowercase hex>+<base64(0x01 || public key)>``
* signer key   = ``PRIVATE+KEY+<name>+<8 lowercase hex>+<base64(0x01 || seed)>``
* signed note  = text (ends in "\\n") + "\\n" + lines ``— <name> <base64(key hash || sig)>\\n``

Parsing is strict where the formats allow only one spelling (canonical base64,
lowercase hex, decimal sizes without leading zeros) so that every accepted
note has exactly one byte representation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

__all__ = [
    "MAX_SIGNATURES",
    "Checkpoint",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "key_hash",
    "open_checkpoint",
    "open_note",
    "sign_checkpoint",
]

ALG_ED25519: Final = 0x01
# c2sp.org/signed-note: verifiers SHOULD cap the signature count and MUST
# accept at least 16; 100 is the Go implementation's cap.
MAX_SIGNATURES: Final = 100
_MAX_TREE_SIZE: Final = 2**64 - 1
_SIG_PREFIX: Final = "\u2014 "  # EM DASH, SPACE
_PRIVATE_PREFIX: Final = "PRIVATE+KEY+"

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HASH_HEX = re.compile(r"[0-9a-f]{8}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class NoteError(ValueError):
    """A note, key or checkpoint is malformed, or a note fails to verify."""

    code = "note_invalid"


# --- helpers -------------------------------------------------------------------


def _check_name(name: str, what: str = "key name") -> None:
    if not name:
        raise NoteError(f"{what} is empty")
    if "+" in name:
        raise NoteError(f"{what} {name!r} contains '+'")
    if any(c.isspace() for c in name):
        raise NoteError(f"{what} {name!r} contains whitespace")
    if _CONTROL.search(name):
        raise NoteError(f"{what} {name!r} contains a control character")
    _utf8(name, what)


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError(f"{what} is not valid UTF-8: {exc.reason}") from None


def _b64decode(value: str, what: str) -> bytes:
    """Strict standard base64: padded, and canonical (re-encodes to the same text)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    # Non-zero padding bits decode fine but give a second spelling of the same
    # bytes; rejecting them keeps notes byte-for-byte unique.
    if base64.b64encode(raw).decode("ascii") != value:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def key_hash(name: str, public_key: bytes) -> int:
    """Key ID of an Ed25519 key: first 4 bytes of SHA-256(name || 0x0A || 0x01 || key)."""
    _check_name(name)
    if len(public_key) != 32:
        raise NoteError(f"Ed25519 public key is {len(public_key)} bytes, not 32")
    digest = hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key
    ).digest()
    return int.from_bytes(digest[:4], "big")


def _parse_hash_hex(value: str, what: str) -> int:
    if not _HASH_HEX.fullmatch(value):
        raise NoteError(f"{what} key hash {value!r} is not 8 lowercase hex digits")
    return int(value, 16)


def _check_text(text: str) -> bytes:
    """Validate note text per c2sp.org/signed-note; return its UTF-8 bytes."""
    if not text:
        raise NoteError("note text is empty")
    if not text.endswith("\n"):
        raise NoteError("note text does not end with a newline")
    m = _CONTROL.search(text)
    if m:
        raise NoteError(f"note text contains control character {m.group()!r}")
    return _utf8(text, "note text")


# --- keys ------------------------------------------------------------------------


def _parse_key_parts(text: str, kind: str, form: str, noun: str) -> tuple[str, int, bytes]:
    """Split ``<name>+<hash>+<base64(0x01 || 32 bytes)>``; the base64 may itself hold '+'."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise NoteError(form.format(n=len(parts)))
    name, hash_hex, key64 = parts
    _check_name(name)
    claimed = _parse_hash_hex(hash_hex, kind)
    raw = _b64decode(key64, f"{kind} key data")
    if not raw:
        raise NoteError(f"{kind} key data is empty")
    if raw[0] != ALG_ED25519:
        raise NoteError(f"{kind} key algorithm 0x{raw[0]:02x} is not supported (only 0x01 Ed25519)")
    if len(raw) != 33:
        raise NoteError(f"{noun} is {len(raw) - 1} bytes, not 32")
    return name, claimed, raw[1:]


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 note verifier key: name, key hash and 32-byte public key."""

    name: str
    key_hash: int
    public_key: bytes
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        want = key_hash(self.name, self.public_key)
        if self.key_hash != want:
            raise NoteError(
                f"verifier key hash {self.key_hash:08x} does not match key "
                f"{self.name} (computed {want:08x})"
            )
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> NoteVerifier:
        """Verifier for ``public_key`` under ``name``."""
        raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return cls(name, key_hash(name, raw), raw)

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<hash>+<base64(0x01 || key)>``."""
        name, claimed, key = _parse_key_parts(
            vkey,
            "verifier",
            "verifier key must have the form <name>+<hash>+<key>, got {n} '+'-separated parts",
            "Ed25519 verifier key",
        )
        return cls(name, claimed, key)

    def vkey(self) -> str:
        """The verifier key string."""
        return f"{self.name}+{self.key_hash:08x}+{_b64(bytes([ALG_ED25519]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is a valid Ed25519 signature of ``message``."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, eq=False)
class NoteSigner:
    """An Ed25519 note signing key and its name. Compares by identity."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """A new random key under ``name``."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_key_string(cls, skey: str) -> NoteSigner:
        """Parse ``PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`` (Go's GenerateKey format)."""
        if not skey.startswith(_PRIVATE_PREFIX):
            raise NoteError("private key string does not start with 'PRIVATE+KEY+'")
        name, claimed, seed = _parse_key_parts(
            skey[len(_PRIVATE_PREFIX) :],
            "private",
            "private key string must have the form PRIVATE+KEY+<name>+<hash>+<key>, "
            "got {n} '+'-separated parts after the prefix",
            "Ed25519 private key seed",
        )
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        # The hash names the public key, so it can only be checked after
        # deriving that key from the seed.
        if signer.key_hash != claimed:
            raise NoteError(
                f"private key hash {claimed:08x} does not match key {name} "
                f"(computed {signer.key_hash:08x})"
            )
        return signer

    @property
    def public_key_bytes(self) -> bytes:
        """Raw 32-byte Ed25519 public key."""
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_hash(self) -> int:
        """The key ID shared with the matching verifier."""
        return key_hash(self.name, self.public_key_bytes)

    def verifier(self) -> NoteVerifier:
        """The matching verifier."""
        return NoteVerifier(self.name, self.key_hash, self.public_key_bytes)

    def verifier_key(self) -> str:
        """The matching verifier key string."""
        return self.verifier().vkey()

    def private_key_string(self) -> str:
        """``PRIVATE+KEY+...`` string; secret, never log it."""
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return (
            f"{_PRIVATE_PREFIX}{self.name}+{self.key_hash:08x}+{_b64(bytes([ALG_ED25519]) + seed)}"
        )

    def signature_line(self, text: str) -> str:
        """One ``— name base64`` line (with newline) signing ``text``, for cosigning."""
        message = _check_text(text)
        sig = self.private_key.sign(message)
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_hash.to_bytes(4, 'big') + sig)}\n"

    def sign(self, text: str) -> str:
        """The signed note: ``text``, a blank line, and this key's signature line."""
        return text + "\n" + self.signature_line(text)


# --- notes -----------------------------------------------------------------------


def _split_note(note: str | bytes) -> tuple[str, list[str]]:
    """Split a signed note into its text and signature lines (without newlines)."""
    if isinstance(note, bytes | bytearray | memoryview):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError(f"note is not valid UTF-8 (byte {exc.start})") from None
    m = _CONTROL.search(note)
    if m:
        line = note.count("\n", 0, m.start()) + 1
        raise NoteError(f"note line {line} contains control character {m.group()!r}")
    _utf8(note, "note")
    if not note.endswith("\n"):
        raise NoteError("note does not end with a newline")
    # The spec lets the text contain blank lines: the signatures start after
    # the *last* blank line.
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note text is truncated: no blank line before signatures")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs:
        raise NoteError("note has no signature lines after the blank line")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(
            f"note has {len(lines)} signatures, more than the limit of {MAX_SIGNATURES}"
        )
    return text, lines


def _parse_signature_line(number: int, line: str) -> tuple[str, int, bytes]:
    def malformed(why: str) -> NoteError:
        return NoteError(f"signature line {number} is malformed: {why}")

    if not line.startswith(_SIG_PREFIX):
        raise malformed("it does not start with an em dash and a space")
    fields = line[len(_SIG_PREFIX) :].split(" ")
    if len(fields) != 2:
        raise malformed("expected '— <key name> <base64 signature>'")
    name, sig64 = fields
    try:
        _check_name(name)
        raw = _b64decode(sig64, "signature")
    except NoteError as exc:
        raise malformed(str(exc)) from None
    if len(raw) < 5:
        raise malformed(f"signature is {len(raw)} bytes, too short for a key hash and signature")
    return name, int.from_bytes(raw[:4], "big"), raw[4:]


def open_note(note: str | bytes, verifiers: Sequence[NoteVerifier]) -> str:
    """Verify a signed note and return its text (including the final newline).

    Signatures from keys not in ``verifiers`` (by name *and* key hash) are
    ignored, as c2sp.org/signed-note requires. Any signature from a known key
    must verify, and at least one known key must have signed. Raises
    ``NoteError`` otherwise.
    """
    if not verifiers:
        raise NoteError("no verifier keys given")
    known: dict[tuple[str, int], NoteVerifier] = {}
    ambiguous: set[tuple[str, int]] = set()
    for candidate in verifiers:
        k = (candidate.name, candidate.key_hash)
        if k in known and known[k].public_key != candidate.public_key:
            ambiguous.add(k)
        known.setdefault(k, candidate)

    text, lines = _split_note(note)
    message = text.encode("utf-8")
    verified = False
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        name, khash, sig = _parse_signature_line(number, line)
        k = (name, khash)
        v = known.get(k)
        if v is None or line in seen:
            continue
        seen.add(line)
        if k in ambiguous:
            raise NoteError(f"ambiguous key {name}+{khash:08x}: several verifier keys match it")
        if len(sig) != 64:
            raise NoteError(
                f"signature line {number} from key {name}+{khash:08x} is {len(sig)} bytes, "
                "not a 64-byte Ed25519 signature"
            )
        if not v.verify(message, sig):
            raise NoteError(f"signature line {number} from key {name}+{khash:08x} is invalid")
        verified = True
    if not verified:
        names = ", ".join(sorted({v.name for v in verifiers}))
        plural = "key" if len(known) == 1 else "any of keys"
        raise NoteError(f"note has no signature from {plural} {names}")
    return text


# --- checkpoints -----------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A c2sp.org/tlog-checkpoint note body."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(1, "origin", self.origin)
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise NoteError(f"tree size {self.size!r} is not an integer")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise NoteError(f"tree size {self.size} is outside 0..2^64-1")
        if len(self.root_hash) != 32:
            raise NoteError(f"root hash is {len(self.root_hash)} bytes, not 32")
        for i, ext in enumerate(self.extensions, start=4):
            _check_line(i, "extension line", ext)

    def body(self) -> str:
        """The note text: origin, size, base64 root, extensions, each ending in a newline."""
        lines = [self.origin, str(self.size), _b64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint note text (as returned by ``open_note``)."""
        if not body.endswith("\n"):
            raise NoteError("checkpoint does not end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError(
                f"checkpoint has {len(lines)} lines, needs origin, tree size and root hash"
            )
        origin, size_text, root64, *extensions = lines
        _check_line(1, "origin", origin)
        if not _DECIMAL.fullmatch(size_text):
            raise NoteError(f"checkpoint line 2: tree size {size_text!r} is not a decimal integer")
        size = int(size_text)
        if size > _MAX_TREE_SIZE:
            raise NoteError(f"checkpoint line 2: tree size {size_text} exceeds 2^64-1")
        try:
            root = _b64decode(root64, "root hash")
        except NoteError as exc:
            raise NoteError(f"checkpoint line 3: {exc}") from None
        if len(root) != 32:
            raise NoteError(f"checkpoint line 3: root hash is {len(root)} bytes, not 32")
        for i, ext in enumerate(extensions, start=4):
            _check_line(i, "extension line", ext)
        return cls(origin, size, root, tuple(extensions))


def _check_line(number: int, what: str, value: str) -> None:
    if not value:
        raise NoteError(f"checkpoint line {number}: {what} is empty")
    if "\n" in value:
        raise NoteError(f"checkpoint line {number}: {what} contains a newline")
    m = _CONTROL.search(value)
    if m:
        raise NoteError(
            f"checkpoint line {number}: {what} contains control character {m.group()!r}"
        )


def sign_checkpoint(cp: Checkpoint, signer: NoteSigner) -> str:
    """The signed checkpoint note."""
    return signer.sign(cp.body())


def open_checkpoint(
    note: str | bytes, verifiers: Sequence[NoteVerifier], origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint and parse it.

    When ``origin`` is given the checkpoint must name that log: a valid
    signature alone does not stop a key shared by two logs from having one
    log's checkpoint presented as the other's.
    """
    cp = Checkpoint.parse(open_note(note, verifiers))
    if origin is not None and cp.origin != origin:
        raise NoteError(f"checkpoint origin {cp.origin!r} is not the expected {origin!r}")
    return cp
