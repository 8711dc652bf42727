"""The KYC desk's attestation: a signed statement that a commitment is to a client's attribute.

Pure: the document, its canonical bytes, its Ed25519 signature and the check of both. The
desk (``privacy.zk.desk``) issues them; the server's verifier (``privacy.zk.service``) and
the offline verifier (``privacy.zk.offline``) check them with the same code, so this module
imports nothing of the server.

The signed message is ``SIGNING_TAG || canonical JSON`` of every member but ``signature``:
keys sorted, no whitespace, ASCII only (every member is an ASCII string or an integer, so
this is also its RFC 8785 form). The commitment and the signature are unpadded base64url.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privacy.zk.flow_errors import AttestationInvalid

__all__ = [
    "FORMAT",
    "SCHEMA",
    "SIGNING_TAG",
    "Attestation",
    "DeskKey",
    "b64url",
    "check_attestation",
    "format_time",
    "from_b64url",
    "key_id_of",
    "parse_attestation",
    "parse_attestations",
    "parse_time",
    "sign_attestation",
]

FORMAT = "custos-zk-attestation"
VERSION = 1
SCHEMA = "custos/zk/attribute/v1"
SIGNING_TAG = b"custos-zk-attestation/v1\n"
_COMMITMENT_BYTES = 48
_MEMBERS = frozenset(
    {
        "format",
        "version",
        "schema",
        "attestation_id",
        "client",
        "attribute",
        "category",
        "bits",
        "commitment",
        "issued",
        "expires",
        "key_id",
        "signature",
    }
)
_ID = re.compile(r"^at_[0-9a-f]{24}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,127}$")
_CLIENT = re.compile(r"^c_[0-9a-f]{16}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str, what: str) -> bytes:
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise AttestationInvalid(f"{what} is not base64url", field=what)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise AttestationInvalid(f"{what} is not base64url", field=what) from None
    if b64url(raw) != text:
        raise AttestationInvalid(f"{what} is not canonical base64url", field=what)
    return raw


def format_time(t: datetime) -> str:
    """RFC 3339 UTC to the second: what attestations and desk keys carry."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any, what: str) -> datetime:
    if not isinstance(text, str) or not _TIME.match(text):
        raise AttestationInvalid(f"{what} is not a time like 2026-01-01T00:00:00Z", field=what)
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AttestationInvalid(f"{what} is not a valid time", field=what) from None


def key_id_of(public_key: bytes) -> str:
    """The first 16 hex digits of SHA-256 of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def _canonical(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True)
class Attestation:
    attestation_id: str
    client: str
    attribute: str
    category: str
    bits: int
    commitment: bytes
    issued: str
    expires: str
    key_id: str
    signature: bytes

    def unsigned(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "schema": SCHEMA,
            "attestation_id": self.attestation_id,
            "client": self.client,
            "attribute": self.attribute,
            "category": self.category,
            "bits": self.bits,
            "commitment": b64url(self.commitment),
            "issued": self.issued,
            "expires": self.expires,
            "key_id": self.key_id,
        }

    def to_json(self) -> dict[str, Any]:
        return self.unsigned() | {"signature": b64url(self.signature)}

    def canonical(self) -> str:
        return _canonical(self.to_json()).decode("ascii")

    def message(self) -> bytes:
        return SIGNING_TAG + _canonical(self.unsigned())


def sign_attestation(
    key: Ed25519PrivateKey,
    *,
    client: str,
    attribute: str,
    category: str,
    bits: int,
    commitment: bytes,
    issued: datetime,
    expires: datetime,
    attestation_id: str | None = None,
) -> Attestation:
    public = key.public_key().public_bytes_raw()
    draft = Attestation(
        attestation_id or "at_" + secrets.token_hex(12),
        client,
        attribute,
        category,
        bits,
        commitment,
        format_time(issued),
        format_time(expires),
        key_id_of(public),
        b"",
    )
    return replace(draft, signature=key.sign(draft.message()))


def _str(obj: Mapping[str, Any], key: str, pattern: re.Pattern[str]) -> str:
    value = obj[key]
    if not isinstance(value, str) or not pattern.match(value):
        raise AttestationInvalid(f"attestation.{key} is malformed", field=f"attestation.{key}")
    return value


def parse_attestation(obj: Any) -> Attestation:
    """The attestation a JSON object is; AttestationInvalid names the member at fault. The
    signature is not checked here (``check_attestation`` does)."""
    if not isinstance(obj, Mapping) or set(obj) != _MEMBERS:
        raise AttestationInvalid(
            f"an attestation has exactly the members {sorted(_MEMBERS)}", field="attestation"
        )
    if obj["format"] != FORMAT or obj["version"] != VERSION or obj["schema"] != SCHEMA:
        raise AttestationInvalid(
            f"not a {FORMAT} version {VERSION} document of schema {SCHEMA}", field="attestation"
        )
    bits = obj["bits"]
    if type(bits) is not int or not 1 <= bits <= 40:
        raise AttestationInvalid("attestation.bits must be 1..40", field="attestation.bits")
    commitment = from_b64url(obj["commitment"], "attestation.commitment")
    if len(commitment) != _COMMITMENT_BYTES:
        raise AttestationInvalid(
            "attestation.commitment must be a 48-byte point", field="attestation.commitment"
        )
    parse_time(obj["issued"], "attestation.issued")
    parse_time(obj["expires"], "attestation.expires")
    return Attestation(
        _str(obj, "attestation_id", _ID),
        _str(obj, "client", _CLIENT),
        _str(obj, "attribute", _NAME),
        _str(obj, "category", _NAME),
        bits,
        commitment,
        obj["issued"],
        obj["expires"],
        _str(obj, "key_id", _KEY_ID),
        from_b64url(obj["signature"], "attestation.signature"),
    )


def parse_attestations(text: str) -> tuple[Attestation, ...]:
    """The ``attestations`` member of a proof's context: a JSON list of attestations."""
    try:
        raw = json.loads(text)
    except (ValueError, TypeError):
        raise AttestationInvalid("the attestations are not JSON", field="attestations") from None
    if not isinstance(raw, list) or not 1 <= len(raw) <= 16:
        raise AttestationInvalid("the attestations are a list of 1 to 16", field="attestations")
    return tuple(parse_attestation(a) for a in raw)


@dataclass(frozen=True)
class DeskKey:
    """A desk verification key and the time it was in force (``valid_until`` None: still)."""

    key_id: str
    public_key: bytes
    valid_from: datetime
    valid_until: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "public_key": b64url(self.public_key),
            "valid_from": format_time(self.valid_from),
            "valid_until": None if self.valid_until is None else format_time(self.valid_until),
        }


def check_attestation(
    att: Attestation, keys: Mapping[str, DeskKey], at: datetime, *, current_only: bool
) -> str | None:
    """None if the attestation is sound at ``at``, else a stable reason code:
    ``attestation_unknown_key`` (no such desk key), ``attestation_key_retired`` (signed by a
    key rotated out: always refused with ``current_only``, else when it was issued after
    the key's retirement), ``attestation_bad_signature``, ``attestation_expired``
    (``expires`` at or before ``at``) or ``attestation_not_yet_valid``."""
    key = keys.get(att.key_id)
    if key is None or key_id_of(key.public_key) != att.key_id:
        return "attestation_unknown_key"
    issued = parse_time(att.issued, "attestation.issued")
    if key.valid_until is not None and (current_only or issued > key.valid_until):
        return "attestation_key_retired"
    try:
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(att.signature, att.message())
    except (InvalidSignature, ValueError):
        return "attestation_bad_signature"
    if parse_time(att.expires, "attestation.expires") <= at:
        return "attestation_expired"
    if issued > at:
        return "attestation_not_yet_valid"
    return None
