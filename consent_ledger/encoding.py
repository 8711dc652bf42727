"""Canonical byte encoding of ledger entries.

An entry is a JSON object encoded by RFC 8785 (JSON Canonicalization Scheme): keys sorted,
no insignificant white space, strings as UTF-8 with JCS escaping. The leaf hash of entry i
is SHA-256(0x00 || those bytes), so anyone holding the bytes can rebuild the Merkle tree.

Values are limited to what JCS encodes with no ambiguity: strings, integers within
±(2**53 - 1), booleans, null, arrays and objects with ASCII keys. Floats are refused, since
their JCS form depends on ECMAScript number formatting. Within that subset orjson with
sorted keys produces exactly the JCS bytes (property-tested against the rfc8785 package),
at a fraction of the cost.

Top-level fields: ``v`` (format version, 1), ``index`` (position in the log), ``prev_hash``
(hex leaf hash of entry index-1, 64 zeros for entry 0), ``timestamp`` (RFC 3339, UTC,
microseconds, ``Z``), ``type`` (event name), ``subject`` (client pseudonym or null) and
``body`` (the event's fields: names, levels, purposes, ids; never a personal value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = [
    "FORMAT_VERSION",
    "GENESIS_PREV_HASH",
    "EncodingError",
    "Entry",
    "check_value",
    "decode_entry",
    "encode_entry",
    "format_timestamp",
]

FORMAT_VERSION = 1
GENESIS_PREV_HASH = bytes(32)
_MAX_SAFE_INT = 2**53 - 1
_FIELDS = frozenset({"v", "index", "prev_hash", "timestamp", "type", "subject", "body"})


class EncodingError(ValueError):
    """Bytes or values that are not a canonical Custos ledger entry."""

    code = "entry_invalid"


@dataclass(frozen=True)
class Entry:
    index: int
    prev_hash: bytes
    timestamp: str
    type: str
    subject: str | None
    body: Mapping[str, Any]


def format_timestamp(t: datetime) -> str:
    if t.tzinfo is None:
        raise EncodingError("timestamps must carry a time zone")
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_value(value: Any, where: str = "body") -> None:
    """Refuse anything outside the JCS-safe subset, naming where it sits."""
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise EncodingError(f"{where}: integer {value} is outside ±(2**53-1)")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise EncodingError(f"{where}: keys must be ASCII strings, got {key!r}")
            check_value(item, f"{where}.{key}")
        return
    raise EncodingError(f"{where}: {type(value).__name__} values cannot be encoded canonically")


def _dumps(obj: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise EncodingError(f"entry cannot be encoded: {exc}") from exc


def encode_entry(
    *,
    index: int,
    prev_hash: bytes,
    timestamp: str,
    type: str,
    subject: str | None,
    body: Mapping[str, Any],
) -> bytes:
    check_value(dict(body))
    return _dumps(
        {
            "v": FORMAT_VERSION,
            "index": index,
            "prev_hash": prev_hash.hex(),
            "timestamp": timestamp,
            "type": type,
            "subject": subject,
            "body": body,
        }
    )


def decode_entry(raw: bytes) -> Entry:
    """Parse and check one entry; the bytes must be exactly the canonical encoding."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EncodingError(f"not valid JSON: {exc}") from exc
    if not isinstance(obj, dict) or set(obj) != _FIELDS:
        raise EncodingError("not a ledger entry: wrong set of top-level fields")
    if obj["v"] != FORMAT_VERSION:
        raise EncodingError(f"unknown entry format version {obj['v']!r}")
    index, prev, ts, typ, subject, body = (
        obj["index"],
        obj["prev_hash"],
        obj["timestamp"],
        obj["type"],
        obj["subject"],
        obj["body"],
    )
    if not (isinstance(index, int) and not isinstance(index, bool) and index >= 0):
        raise EncodingError("index is not a non-negative integer")
    if not (isinstance(prev, str) and len(prev) == 64):
        raise EncodingError("prev_hash is not 64 hex digits")
    try:
        prev_hash = bytes.fromhex(prev)
    except ValueError as exc:
        raise EncodingError("prev_hash is not 64 hex digits") from exc
    if not (isinstance(ts, str) and isinstance(typ, str) and isinstance(body, dict)):
        raise EncodingError("timestamp, type or body has the wrong JSON type")
    if subject is not None and not isinstance(subject, str):
        raise EncodingError("subject is neither a string nor null")
    if _dumps(obj) != raw:
        raise EncodingError("bytes are not in canonical form")
    return Entry(index, prev_hash, ts, typ, subject, body)
