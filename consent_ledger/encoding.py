"""Canonical byte encoding of ledger entries.

An entry is a JSON object encoded by RFC 8785 (JSON Canonicalization Scheme): keys sorted,
no insignificant white space, strings as UTF-8 with JCS escaping. The leaf hash of entry i
is SHA-256(0x00 || those bytes), so anyone holding the bytes can rebuild the Merkle tree.

Values are limited to what JCS encodes with no ambiguity: strings, integers within
±(2**53 - 1), booleans, null, arrays and objects with ASCII keys, nested at most
``MAX_DEPTH`` containers deep. Floats are refused, since their JCS form depends on
ECMAScript number formatting. Within that subset orjson with sorted keys produces exactly
the JCS bytes (property-tested against the rfc8785 package), at a fraction of the cost.

The two checks that run once per appended and once per verified entry (is a value inside
the subset; are these bytes exactly a canonical entry) also exist compiled, in
``consent_ledger/_canonical.c``; the pure-Python versions here are the reference the
compiled ones are tested against, and stand in where the extension was not built.

Top-level fields: ``v`` (format version, 1), ``index`` (position in the log), ``prev_hash``
(lower-case hex leaf hash of entry index-1, 64 zeros for entry 0), ``timestamp`` (RFC 3339, UTC,
microseconds, ``Z``), ``type`` (event name), ``subject`` (client pseudonym or null) and
``body`` (the event's fields: names, levels, purposes, ids; never a personal value).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

__all__ = [
    "FORMAT_VERSION",
    "GENESIS_PREV_HASH",
    "MAX_DEPTH",
    "NATIVE",
    "EncodingError",
    "Entry",
    "canonical_link",
    "check_value",
    "decode_entry",
    "encode_entry",
    "entry_link",
    "format_timestamp",
    "linked_run",
]

FORMAT_VERSION = 1
_HASH_SIZE = 32
GENESIS_PREV_HASH = bytes(_HASH_SIZE)
_MAX_SAFE_INT = 2**53 - 1
MAX_DEPTH = 32  # containers inside the body, the body itself being the first
_PREV_HASH = re.compile(r"[0-9a-f]{64}")
_FIELDS = frozenset({"v", "index", "prev_hash", "timestamp", "type", "subject", "body"})


class EncodingError(ValueError):
    """Bytes or values that are not a canonical Custos ledger entry."""

    code = "entry_invalid"


class Entry(NamedTuple):
    """A decoded entry. A NamedTuple rather than a frozen dataclass: the verifier builds
    one per entry, and a frozen dataclass costs five times as much to construct."""

    index: int  # type: ignore[assignment]  # shadows tuple.index, which entries never need
    prev_hash: bytes
    timestamp: str
    type: str
    subject: str | None
    body: Mapping[str, Any]


def format_timestamp(t: datetime) -> str:
    """RFC 3339, UTC, always six fractional digits: fixed width, so text order is time order."""
    if t.tzinfo is None:
        raise EncodingError("timestamps must carry a time zone")
    u = t.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:"
        f"{u.second:02d}.{u.microsecond:06d}Z"
    )


def _plain_reference(value: Any, depth: int = 1) -> bool:
    """Is a value inside the JCS-safe subset? (No message building: see ``_explain``.)

    Plain loops, not generators: without the compiled module this runs on every append.
    """
    t = type(value)
    if t is str or value is None or t is bool:
        return True
    if t is int:
        return bool(-_MAX_SAFE_INT <= value <= _MAX_SAFE_INT)
    if depth > MAX_DEPTH:
        return False
    if t is dict:
        # One join checks every key at once: all strings (join raises otherwise), all ASCII.
        try:
            if not "".join(value).isascii():
                return False
        except TypeError:
            return False
        for v in value.values():
            tv = type(v)
            # Scalars inline: bodies are flat dicts of strings and numbers, mostly.
            if tv is str or v is None or tv is bool:
                continue
            if tv is int:
                if not -_MAX_SAFE_INT <= v <= _MAX_SAFE_INT:
                    return False
                continue
            if not _plain_reference(v, depth + 1):
                return False
        return True
    if t is list or t is tuple:
        for v in value:  # noqa: SIM110 - a loop, not all(genexpr): this is the hot path
            if type(v) is not str and not _plain_reference(v, depth + 1):
                return False
        return True
    return False


def check_value(value: Any, where: str = "body") -> None:
    """Refuse anything outside the JCS-safe subset, naming where it sits."""
    if _plain(value):
        return
    _explain(value, where, 1)


def _explain(value: Any, where: str, depth: int) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise EncodingError(f"{where}: integer {value} is outside ±(2**53-1)")
        return
    if isinstance(value, list | tuple | dict) and depth > MAX_DEPTH:
        raise EncodingError(f"{where}: containers nest deeper than {MAX_DEPTH} levels")
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _explain(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise EncodingError(f"{where}: keys must be ASCII strings, got {key!r}")
            _explain(item, f"{where}.{key}", depth + 1)
        return
    raise EncodingError(f"{where}: {type(value).__name__} values cannot be encoded canonically")


def _dumps(obj: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise EncodingError(f"entry cannot be encoded: {exc}") from exc


def _header_problem(
    index: Any, prev_hash: Any, timestamp: Any, kind: Any, subject: Any
) -> str | None:
    """What is wrong with an entry's top-level fields, or None. (A function of its own:
    ``encode_entry``'s parameter ``type`` hides the builtin.)"""
    if type(index) is not int or not 0 <= index <= _MAX_SAFE_INT:
        return "index is not a non-negative integer below 2**53"
    if not isinstance(prev_hash, bytes | bytearray | memoryview) or len(prev_hash) != _HASH_SIZE:
        return f"prev_hash is not {_HASH_SIZE} bytes"
    # isinstance: an event type may be a StrEnum, which encodes as its string value.
    if not isinstance(timestamp, str) or not isinstance(kind, str):
        return "timestamp and type must be strings"
    if subject is not None and not isinstance(subject, str):
        return "subject is neither a string nor null"
    return None


def encode_entry(
    *,
    index: int,
    prev_hash: bytes,
    timestamp: str,
    type: str,
    subject: str | None,
    body: Mapping[str, Any],
) -> bytes:
    """The canonical bytes of one entry; EncodingError for anything ``decode_entry`` would
    refuse, so that the writer can never append an entry the verifier rejects."""
    problem = _header_problem(index, prev_hash, timestamp, type, subject)
    if problem is not None:
        raise EncodingError(problem)
    if not _plain(body):
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
    return _decode(raw, _plain)


def _decode(raw: bytes, plain: Callable[[Any], bool]) -> Entry:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EncodingError(f"not valid JSON: {exc}") from exc
    # Seven keys, all of them present, is exactly the set of fields.
    if type(obj) is not dict or len(obj) != len(_FIELDS):
        raise EncodingError("not a ledger entry: wrong set of top-level fields")
    try:
        version, index, prev, ts, typ, subject, body = (
            obj["v"],
            obj["index"],
            obj["prev_hash"],
            obj["timestamp"],
            obj["type"],
            obj["subject"],
            obj["body"],
        )
    except KeyError as exc:
        raise EncodingError(f"not a ledger entry: no field {exc.args[0]!r}") from exc
    # type() first: in Python, true == 1 == 1.0.
    if type(version) is not int or version != FORMAT_VERSION:
        raise EncodingError(f"unknown entry format version {version!r}")
    if type(index) is not int or not 0 <= index <= _MAX_SAFE_INT:
        raise EncodingError("index is not a non-negative integer below 2**53")
    if type(prev) is not str or not _PREV_HASH.fullmatch(prev):
        raise EncodingError("prev_hash is not 64 lower-case hex digits")
    prev_hash = bytes.fromhex(prev)
    if type(ts) is not str or type(typ) is not str or type(body) is not dict:
        raise EncodingError("timestamp, type or body has the wrong JSON type")
    if subject is not None and type(subject) is not str:
        raise EncodingError("subject is neither a string nor null")
    if not plain(body):
        _explain(body, "body", 1)
    if _dumps(obj) != raw:
        raise EncodingError("bytes are not in canonical form")
    return Entry(index, prev_hash, ts, typ, subject, body)


def _link_reference(raw: bytes) -> tuple[int, bytes] | None:
    """``canonical_link`` in Python: ``decode_entry`` with the Python subset check."""
    try:
        entry = _decode(raw, _plain_reference)
    except EncodingError:
        return None
    return entry.index, entry.prev_hash


def _linked_run_reference(
    raws: list[bytes], hashes: list[bytes], first_index: int, prev: bytes
) -> int:
    """``linked_run`` in Python: how many leading entries of ``raws`` are canonical entries
    numbered ``first_index``, ``first_index + 1``, ..., the first recording ``prev`` as its
    prev_hash and each later one the hash before it in ``hashes``."""
    for i, raw in enumerate(raws):
        if type(raw) is not bytes or _link_reference(raw) != (first_index + i, prev):
            return i
        prev = hashes[i] if i + 1 < len(raws) else prev
    return len(raws)


try:
    from consent_ledger import _canonical
except ImportError:  # built without a C compiler: the reference does the same, slower
    NATIVE = False
    _plain: Callable[[Any], bool] = _plain_reference
    canonical_link: Callable[[bytes], tuple[int, bytes] | None] = _link_reference
    linked_run: Callable[[list[bytes], list[bytes], int, bytes], int] = _linked_run_reference
else:
    NATIVE = True
    _plain = _canonical.plain
    canonical_link = _canonical.entry_link
    linked_run = _canonical.linked_run


def entry_link(raw: bytes) -> tuple[int, bytes]:
    """The index and ``prev_hash`` of canonical entry bytes, checked exactly as strictly as
    ``decode_entry`` but without building an Entry: this is the verifier's inner loop.

    Any failure is re-diagnosed by ``decode_entry``, so the error names the actual problem.
    """
    link = canonical_link(raw)
    if link is not None:
        return link
    decode_entry(raw)
    raise EncodingError("not a canonical ledger entry")
