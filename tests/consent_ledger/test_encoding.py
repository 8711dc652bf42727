"""Canonical entry encoding: JCS bytes, strict decoding."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent_ledger.encoding import EncodingError, decode_entry, encode_entry

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(max_codepoint=127), max_size=8), inner, max_size=4
        )
    ),
    max_leaves=12,
)


def _encode(body: dict[str, Any], subject: str | None = "c_1") -> bytes:
    return encode_entry(
        index=3,
        prev_hash=b"\x11" * 32,
        timestamp="2026-01-01T00:00:00.000000Z",
        type="consent_granted",
        subject=subject,
        body=body,
    )


_SLOW_OK = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


@_SLOW_OK
@given(st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127)), _json, max_size=5))
def test_encoding_is_rfc8785(body: dict[str, Any]) -> None:
    """Our bytes equal the reference RFC 8785 implementation's for every allowed value."""
    raw = _encode(body)
    assert raw == rfc8785.dumps(orjson.loads(raw))


@_SLOW_OK
@given(st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127)), _json, max_size=5))
def test_round_trip(body: dict[str, Any]) -> None:
    """Decoding gives back every field that was encoded."""
    entry = decode_entry(_encode(body))
    assert (entry.index, entry.prev_hash, entry.type, entry.subject) == (
        3,
        b"\x11" * 32,
        "consent_granted",
        "c_1",
    )
    assert entry.body == body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"x": 1.5}, "float values cannot be encoded"),
        ({"x": 2**53}, "outside"),
        ({"é": 1}, "ASCII"),
        ({"x": {1, 2}}, "set values"),
    ],
)
def test_refuses_values_outside_the_canonical_subset(body: dict[str, Any], message: str) -> None:
    """Floats, huge integers, non-ASCII keys and non-JSON types are refused by name."""
    with pytest.raises(EncodingError, match=message):
        _encode(body)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"v":1}',
        # valid JSON, same content, but not canonical (white space)
        b'{"body": {},"index":0,"prev_hash":"' + b"0" * 64 + b'","subject":null,'
        b'"timestamp":"t","type":"x","v":1}',
        # keys out of order
        b'{"index":0,"body":{},"prev_hash":"' + b"0" * 64 + b'","subject":null,'
        b'"timestamp":"t","type":"x","v":1}',
        b'{"body":{},"index":-1,"prev_hash":"' + b"0" * 64 + b'","subject":null,'
        b'"timestamp":"t","type":"x","v":1}',
        b'{"body":{},"index":0,"prev_hash":"zz","subject":null,"timestamp":"t","type":"x","v":1}',
        b'{"body":{},"index":0,"prev_hash":"' + b"0" * 64 + b'","subject":null,'
        b'"timestamp":"t","type":"x","v":2}',
    ],
)
def test_decode_refuses_non_canonical_or_malformed_bytes(raw: bytes) -> None:
    """Anything but exactly canonical entry bytes is an EncodingError."""
    with pytest.raises(EncodingError):
        decode_entry(raw)
