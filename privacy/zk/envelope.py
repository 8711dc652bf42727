"""Strict reading and writing of the proof envelope's pieces.

Binary values are unpadded base64url: a scalar is 32 bytes big endian (43 characters) and
must be < ORDER; a point is its 48-byte compressed encoding (64 characters) and is decoded
by the backend, which refuses anything off the curve, outside the prime-order subgroup or
the identity. Decoding is canonical: a string that does not re-encode to itself (stray
padding, non-alphabet characters, nonzero trailing bits) is refused, so one envelope has
exactly one spelling of each value. Objects must have exactly the expected members; lists
exactly the expected lengths. Every refusal is an InvalidEnvelope naming the member.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any

from privacy.zk._curve import ORDER
from privacy.zk.backend import Backend, Point
from privacy.zk.errors import InvalidEnvelope
from privacy.zk.transcript import SCALAR_BYTES, scalar_bytes

__all__ = [
    "FORMAT",
    "MAX_CLAIMS",
    "MAX_CONTEXT_KEYS",
    "MAX_CONTEXT_VALUE",
    "POINT_BYTES",
    "VERSION",
    "b64",
    "check_context",
    "decode_point",
    "exact_members",
    "parse_bytes",
    "parse_int",
    "parse_list",
    "parse_point",
    "parse_points",
    "parse_scalar",
    "parse_scalars",
    "scalar_text",
]

FORMAT = "custos-zk-proof"
VERSION = 1
POINT_BYTES = 48
MAX_CLAIMS = 8
MAX_CONTEXT_KEYS = 32
MAX_CONTEXT_VALUE = 65536
_CONTEXT_KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
_B64 = re.compile(r"[A-Za-z0-9_-]*")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def scalar_text(k: int) -> str:
    return b64(scalar_bytes(k))


def parse_bytes(value: Any, length: int, field: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidEnvelope(f"{field} must be a base64url string", field=field)
    if len(value) != (length * 4 + 2) // 3 or not _B64.fullmatch(value):
        raise InvalidEnvelope(f"{field} must be {length} bytes in unpadded base64url", field=field)
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise InvalidEnvelope(f"{field} is not base64url", field=field) from None
    if len(data) != length or b64(data) != value:
        raise InvalidEnvelope(f"{field} is not canonical base64url", field=field)
    return data


def parse_scalar(value: Any, field: str) -> int:
    k = int.from_bytes(parse_bytes(value, SCALAR_BYTES, field), "big")
    if k >= ORDER:
        raise InvalidEnvelope(f"{field} is not a canonical scalar (≥ the group order)", field=field)
    return k


def parse_point(b: Backend, value: Any, field: str) -> tuple[bytes, Point]:
    data = parse_bytes(value, POINT_BYTES, field)
    return data, decode_point(b, data, field)


def decode_point(b: Backend, data: bytes, field: str) -> Point:
    """The point of an encoding already read (``parse_bytes``): the curve checks."""
    try:
        return b.decode(data)
    except InvalidEnvelope as exc:
        raise InvalidEnvelope(f"{field}: {exc.message}", field=field) from None


def parse_list(value: Any, length: int, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidEnvelope(f"{field} must be a list", field=field)
    if len(value) != length:
        raise InvalidEnvelope(f"{field} must have {length} items, not {len(value)}", field=field)
    return value


def parse_scalars(value: Any, length: int, field: str) -> list[int]:
    items = parse_list(value, length, field)
    return [parse_scalar(v, f"{field}[{i}]") for i, v in enumerate(items)]


def parse_points(b: Backend, value: Any, length: int, field: str) -> list[tuple[bytes, Point]]:
    items = parse_list(value, length, field)
    return [parse_point(b, v, f"{field}[{i}]") for i, v in enumerate(items)]


def parse_int(value: Any, low: int, high: int, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidEnvelope(f"{field} must be an integer in {low}..{high}", field=field)
    return value


def exact_members(value: Any, members: Sequence[str], field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidEnvelope(f"{field} must be an object", field=field)
    if set(value) != set(members):
        raise InvalidEnvelope(
            f"{field} must have exactly the members {sorted(members)}", field=field
        )
    return value


def check_context(value: Any, field: str = "context") -> dict[str, str]:
    """A context is a flat object of at most MAX_CONTEXT_KEYS string members, keys in
    [a-z][a-z0-9_]*, values at most MAX_CONTEXT_VALUE characters."""
    if not isinstance(value, Mapping):
        raise InvalidEnvelope(f"{field} must be an object", field=field)
    if len(value) > MAX_CONTEXT_KEYS:
        raise InvalidEnvelope(f"{field} has more than {MAX_CONTEXT_KEYS} members", field=field)
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _CONTEXT_KEY.fullmatch(key):
            raise InvalidEnvelope(f"{field} has a key that is not [a-z][a-z0-9_]*", field=field)
        if not isinstance(item, str) or len(item) > MAX_CONTEXT_VALUE:
            raise InvalidEnvelope(
                f"{field}.{key} must be a string of at most {MAX_CONTEXT_VALUE} characters",
                field=f"{field}.{key}",
            )
        try:
            item.encode("utf-8")  # the transcript absorbs UTF-8; lone surrogates have none
        except UnicodeEncodeError:
            raise InvalidEnvelope(
                f"{field}.{key} is not valid Unicode text", field=f"{field}.{key}"
            ) from None
        out[key] = item
    return out
