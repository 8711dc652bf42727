"""Canonical entry encoding: JCS bytes, strict decoding."""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import consent_ledger
from consent_ledger import encoding
from consent_ledger.encoding import (
    MAX_DEPTH,
    EncodingError,
    decode_entry,
    encode_entry,
    entry_link,
    format_timestamp,
)

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


def _raw(**fields: Any) -> bytes:
    """Canonically serialized entry bytes with some top-level fields replaced, so that only
    the field check (not the canonical-form check) can refuse them."""
    obj: dict[str, Any] = {
        "v": 1,
        "index": 0,
        "prev_hash": "0" * 64,
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "type": "t",
        "subject": None,
        "body": {},
    }
    obj.update(fields)
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prev_hash": 5}, "prev_hash is not 64 lower-case hex digits"),
        ({"prev_hash": None}, "prev_hash is not 64 lower-case hex digits"),
        ({"prev_hash": ["0" * 64]}, "prev_hash is not 64 lower-case hex digits"),
        ({"timestamp": 5}, "timestamp, type or body has the wrong JSON type"),
        ({"timestamp": None}, "timestamp, type or body has the wrong JSON type"),
        ({"type": 5}, "timestamp, type or body has the wrong JSON type"),
        ({"body": []}, "timestamp, type or body has the wrong JSON type"),
        ({"subject": 5}, "subject is neither a string nor null"),
        ({"subject": ["c_1"]}, "subject is neither a string nor null"),
        ({"index": True}, "index is not a non-negative integer"),
        ({"index": 2**53}, "index is not a non-negative integer"),
        ({"v": True}, "unknown entry format version True"),
        ({"body": {"x": 2**53}}, "body.x: integer 9007199254740992 is outside"),
    ],
)
def test_decode_names_each_wrong_field_type(fields: dict[str, Any], message: str) -> None:
    """A field of the wrong JSON type is an EncodingError naming it (never a TypeError, which
    the verifier would not catch), for decode_entry and for the verifier's entry_link."""
    raw = _raw(**fields)
    with pytest.raises(EncodingError, match=f"^{re.escape(message)}"):
        decode_entry(raw)
    with pytest.raises(EncodingError, match=f"^{re.escape(message)}"):
        entry_link(raw)


def test_decode_accepts_string_fields_and_a_string_subject() -> None:
    """The same entry with well-typed fields decodes, subject a string or null."""
    assert decode_entry(_raw(subject="c_9")).subject == "c_9"
    entry = decode_entry(_raw())
    assert (entry.index, entry.prev_hash, entry.timestamp, entry.type, entry.subject) == (
        0,
        bytes(32),
        "2026-01-01T00:00:00.000000Z",
        "t",
        None,
    )
    assert entry_link(_raw(index=4)) == (4, bytes(32))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"index": -1}, "index is not a non-negative integer below 2**53"),
        ({"index": 2**53}, "index is not a non-negative integer below 2**53"),
        ({"index": True}, "index is not a non-negative integer below 2**53"),
        ({"prev_hash": "00" * 32}, "prev_hash is not 32 bytes"),
        ({"prev_hash": b"\x00" * 31}, "prev_hash is not 32 bytes"),
        ({"timestamp": 5}, "timestamp and type must be strings"),
        ({"type": None}, "timestamp and type must be strings"),
        ({"subject": 5}, "subject is neither a string nor null"),
    ],
)
def test_encode_refuses_what_decode_would_refuse(fields: dict[str, Any], message: str) -> None:
    """The writer cannot produce an entry the verifier would reject: bad top-level fields
    are refused when encoding, by name."""
    args: dict[str, Any] = {
        "index": 0,
        "prev_hash": bytes(32),
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "type": "t",
        "subject": None,
        "body": {},
    }
    args.update(fields)
    with pytest.raises(EncodingError, match=f"^{re.escape(message)}$"):
        encode_entry(**args)


def test_encode_takes_the_largest_index_and_any_32_byte_prev_hash() -> None:
    """The bounds are inclusive: index 2**53 - 1 encodes, and a null subject is encoded."""
    raw = encode_entry(
        index=2**53 - 1,
        prev_hash=b"\x11" * 32,
        timestamp="t",
        type="x",
        subject=None,
        body={},
    )
    assert entry_link(raw) == (2**53 - 1, b"\x11" * 32)
    assert _encode({}, subject=None) != _encode({})


def test_format_timestamp_is_fixed_width_utc() -> None:
    """Timestamps are UTC with six fractional digits and a Z, whatever zone they come in."""
    east = timezone(timedelta(hours=8))
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.000006Z"
    )
    assert format_timestamp(datetime(2026, 1, 1, 7, 0, tzinfo=east)) == (
        "2025-12-31T23:00:00.000000Z"
    )
    assert format_timestamp(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000000Z"


def test_format_timestamp_refuses_a_naive_datetime() -> None:
    """A datetime without a zone is ambiguous: refused, not read as local or as UTC."""
    with pytest.raises(EncodingError, match=r"^timestamps must carry a time zone$"):
        format_timestamp(datetime(2026, 1, 1, 9, 0))


def test_without_the_extension_the_references_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built without a C compiler, the module loads the pure-Python checks in place of the
    compiled ones, and says so in NATIVE."""
    spec = encoding.__spec__
    assert spec is not None and spec.loader is not None
    monkeypatch.setitem(sys.modules, "consent_ledger._canonical", None)
    monkeypatch.delattr(consent_ledger, "_canonical")
    # A second copy of the module, loaded by the same loader, leaves the real one alone.
    fresh = importlib.util.module_from_spec(
        importlib.util.spec_from_loader(spec.name, spec.loader, origin=spec.origin)  # type: ignore[arg-type]
    )
    spec.loader.exec_module(fresh)
    assert fresh.NATIVE is False
    assert fresh._plain is fresh._plain_reference
    assert fresh.canonical_link is fresh._link_reference
    assert fresh.linked_run is fresh._linked_run_reference
    raw = _encode({"a": [1, None]})
    assert fresh.entry_link(raw) == (3, b"\x11" * 32)
    assert encoding.NATIVE is True


def _deep(depth: int, leaf: Any) -> tuple[dict[str, Any], str]:
    """A body ``depth`` containers deep (the body itself the first), lists and dicts in
    turn, with ``leaf`` at the bottom; and the path of that leaf as a refusal names it."""
    value, path = leaf, ""
    for i in range(depth - 1):
        value, path = ([value], "[0]" + path) if i % 2 == 0 else ({"k": value}, ".k" + path)
    return {"k": value}, "body.k" + path


def test_the_first_bad_value_is_named_after_good_ones() -> None:
    """Refusals name the value that is wrong, by its path, whatever valid values (strings,
    null, booleans, the largest and smallest integers, lists, objects) come before it."""
    body = {
        "max": 2**53 - 1,
        "min": -(2**53 - 1),
        "s": "text",
        "n": None,
        "t": True,
        "l": [1, "x"],
        "o": {"c": [None]},
        "x": 1.5,
    }
    with pytest.raises(EncodingError, match=r"^body\.x: float values cannot be encoded"):
        _encode(body)
    with pytest.raises(EncodingError, match=r"^body\.x: float values cannot be encoded"):
        decode_entry(_raw(body=body))


def test_a_bad_value_at_the_deepest_allowed_level_is_named() -> None:
    """At exactly MAX_DEPTH containers the nesting is allowed, so a bad leaf there is
    refused for what it is, not for its depth; one level deeper, for its depth."""
    bad_leaf, path = _deep(MAX_DEPTH - 1, [1.5])
    path += "[0]"  # the leaf's own list is the last container
    with pytest.raises(EncodingError, match=f"^{re.escape(path)}: float values"):
        _encode(bad_leaf)
    with pytest.raises(EncodingError, match=f"^{re.escape(path)}: float values"):
        decode_entry(_raw(body=bad_leaf))
    deepest, _ = _deep(MAX_DEPTH, 1)
    assert decode_entry(_raw(body=deepest)).body == deepest
    with pytest.raises(EncodingError, match=f"containers nest deeper than {MAX_DEPTH} levels"):
        decode_entry(_raw(body=_deep(MAX_DEPTH + 1, 1)[0]))


def test_the_integer_bounds_hold_inside_objects() -> None:
    """±(2**53 - 1) are allowed as object values, one beyond is not, in the reference check
    and the compiled one alike."""
    for plain in (encoding._plain_reference, encoding._plain):
        assert plain({"a": 2**53 - 1, "b": -(2**53 - 1)}) is True
        assert plain({"a": 2**53}) is False
        assert plain({"a": -(2**53)}) is False


def test_a_string_json_cannot_carry_is_refused() -> None:
    """A lone surrogate has no UTF-8 form: encoding refuses it as an EncodingError."""
    with pytest.raises(EncodingError, match=r"^entry cannot be encoded: "):
        encode_entry(
            index=0, prev_hash=bytes(32), timestamp="t", type="\ud800", subject=None, body={}
        )


def test_entry_link_never_returns_what_the_fast_check_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should the compiled check ever refuse bytes that decode_entry accepts, entry_link
    still refuses them rather than returning nothing."""
    monkeypatch.setattr(encoding, "canonical_link", lambda raw: None)
    with pytest.raises(EncodingError, match=r"^not a canonical ledger entry$"):
        entry_link(_raw())
