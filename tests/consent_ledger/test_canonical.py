"""The compiled canonical-form checks give exactly the answers of the Python reference.

``consent_ledger/_canonical.c`` replaces two pure-Python functions on the append and
verification paths. Every test here feeds both the same input (generated values, valid
entries, and entries mutated byte by byte) and requires the same verdict, so the reference
in ``encoding.py`` stays the specification and the C code cannot drift from it.
"""

from __future__ import annotations

import collections
import datetime as dt
import enum
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consent_ledger import _canonical, encoding
from consent_ledger.encoding import MAX_DEPTH, EncodingError, encode_entry
from consent_ledger.merkle import leaf_hash

_SAFE = 2**53 - 1
_FAST = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)


class _Str(str):
    __slots__ = ()


class _Colour(enum.Enum):
    RED = "red"


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-_SAFE - 3, max_value=_SAFE + 3)
    | st.integers()
    | st.text()
    | st.floats()
    | st.builds(_Str, st.text(max_size=3))
    | st.just(uuid.UUID(int=7))
    | st.just(_Colour.RED)
    | st.just(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    | st.just(b"bytes")
)
_keys = st.text(max_size=4) | st.builds(_Str, st.text(max_size=3)) | st.integers(0, 3)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_keys, inner, max_size=4)
        | st.frozensets(st.integers(0, 3), max_size=2)
        | st.dictionaries(st.text(max_size=2), inner, max_size=2).map(collections.OrderedDict)
    ),
    max_leaves=16,
)


def _nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def test_the_extension_is_built() -> None:
    """make setup compiles it; without it the benchmark figures do not hold."""
    assert encoding.NATIVE
    assert _canonical.MAX_DEPTH == MAX_DEPTH


# -- plain --------------------------------------------------------------------------------


@_FAST
@given(_values)
@example(_nested(MAX_DEPTH))
@example(_nested(MAX_DEPTH + 1))
@example({"é": 1})
@example({"a": 2**53})
@example({"a": -(2**53)})
@example({"a": 2**64})
@example([True, None, "x", -_SAFE, _SAFE])
def test_plain_agrees_with_the_reference(value: Any) -> None:
    assert _canonical.plain(value) is encoding._plain_reference(value)


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 500])
def test_nesting_limit(depth: int) -> None:
    """Bodies nest at most MAX_DEPTH containers deep (the body itself is the first)."""
    body = {"k": _nested(depth - 1)}
    if depth <= MAX_DEPTH:
        raw = _encode(body)
        assert encoding._link_reference(raw) == _canonical.entry_link(raw) == (3, b"\x11" * 32)
    else:
        with pytest.raises(EncodingError, match=f"deeper than {MAX_DEPTH}"):
            _encode(body)


# -- entry bytes --------------------------------------------------------------------------

_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
_ascii = st.text(alphabet=st.characters(max_codepoint=127), max_size=5)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-_SAFE, max_value=_SAFE) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ascii, inner, max_size=3),
    max_leaves=10,
)


def _encode(
    body: dict[str, Any],
    *,
    index: int = 3,
    subject: str | None = "c_1",
    timestamp: str = "2026-01-01T00:00:00.000000Z",
    type: str = "consent_granted",
) -> bytes:
    return encode_entry(
        index=index,
        prev_hash=b"\x11" * 32,
        timestamp=timestamp,
        type=type,
        subject=subject,
        body=body,
    )


_entries = st.builds(
    _encode,
    st.dictionaries(_ascii, _json, max_size=4),
    index=st.integers(0, _SAFE),
    subject=st.none() | _text,
    timestamp=_text,
    type=_text,
)


# Bytes that matter to the grammar, and a few that must never appear raw.
_MUTATION_BYTES = b'{}[]":,\\-0123456789.eEtfnulr \x00\x1f\x7f\x80\xc3\xed\xff'


def _verdicts(raw: bytes) -> tuple[Any, Any]:
    return _canonical.entry_link(raw), encoding._link_reference(raw)


@_FAST
@given(_entries)
def test_valid_entries_are_accepted_by_both(raw: bytes) -> None:
    native, reference = _verdicts(raw)
    assert native == reference
    assert native is not None
    assert native[1] == b"\x11" * 32


@_FAST
@given(_entries, st.data())
def test_mutated_entries_get_the_same_verdict(raw: bytes, data: st.DataObject) -> None:
    """Flip, insert, delete or duplicate bytes anywhere: both accept or both refuse."""
    mutated = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(mutated)))
        action = data.draw(st.sampled_from(["replace", "insert", "delete", "duplicate"]))
        byte = data.draw(st.sampled_from(_MUTATION_BYTES))
        if action == "replace" and at < len(mutated):
            mutated[at] = byte
        elif action == "insert":
            mutated.insert(at, byte)
        elif action == "delete" and at < len(mutated):
            del mutated[at]
        elif action == "duplicate":
            mutated[at:at] = mutated[max(0, at - 4) : at]
    native, reference = _verdicts(bytes(mutated))
    assert native == reference


# Pieces of JSON string contents, canonical or not.
_STRING_PIECES = [
    *(f"\\u00{i:02x}".encode() for i in range(0x20)),
    *(f"\\u00{i:02X}".encode() for i in range(0x0A, 0x20)),
    b"\\u00e9",
    b"\\u2028",
    b"\\ud800",
    *(b"\\" + bytes([c]) for c in b'"\\/bfnrtux'),
    b"a",
    b"Z",
    b"\x7f",
    b"\x1f",
    "é".encode(),
    "\U0001f600".encode(),
    b"\xc3",
    b"\xe2\x80",
]


@_FAST
@given(
    st.lists(st.sampled_from(_STRING_PIECES), max_size=4),
    st.lists(st.sampled_from(_STRING_PIECES), max_size=3),
)
def test_string_escapes_get_the_same_verdict(value: list[bytes], key: list[bytes]) -> None:
    body = b'{"' + b"".join(key) + b'":"' + b"".join(value) + b'","~":1}'
    assert _canonical.entry_link(_top(body=body)) == encoding._link_reference(_top(body=body))


@_FAST
@given(st.binary(max_size=80))
def test_arbitrary_bytes_get_the_same_verdict(raw: bytes) -> None:
    assert _canonical.entry_link(raw) == encoding._link_reference(raw)


def test_every_prefix_of_an_entry_is_refused() -> None:
    raw = _encode({"a": [1, "é", {"b": None}], "c": "\x01"})
    for end in range(len(raw)):
        assert _verdicts(raw[:end]) == (None, None)


_ZERO = b"0" * 64


def _top(body: bytes = b"{}", index: bytes = b"0", prev: bytes = _ZERO, v: bytes = b"1") -> bytes:
    return (
        b'{"body":' + body + b',"index":' + index + b',"prev_hash":"' + prev + b'",'
        b'"subject":null,"timestamp":"t","type":"x","v":' + v + b"}"
    )


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [
        (_top(), True),
        (_top(body=b'{"a":1,"b":2}'), True),
        (_top(body=b'{"b":1,"a":2}'), False),  # keys out of order
        (_top(body=b'{"a":1,"a":2}'), False),  # duplicate key
        (_top(body=b'{"\\u0001":1,"A":2}'), True),  # escaped keys sort by their character
        (_top(body=b'{"A":1,"\\u0001":2}'), False),
        (_top(body=b'{"a":"\\u000a"}'), False),  # has a short escape
        (_top(body=b'{"a":"\\u001F"}'), False),  # upper-case hex
        (_top(body=b'{"a":"\\u00e9"}'), False),  # escaped non-control
        (_top(body=b'{"a":"\\/"}'), False),
        (_top(body=b'{"a":"\xc3\xa9"}'), True),
        (_top(body=b'{"a":"\xc0\xaf"}'), False),  # overlong UTF-8
        (_top(body=b'{"a":"\xed\xa0\x80"}'), False),  # a surrogate in UTF-8
        (_top(body=b'{"a":"\xf4\x90\x80\x80"}'), False),  # past U+10FFFF
        (_top(body=b'{"\xc3\xa9":1}'), False),  # non-ASCII key
        (_top(body=b'{"a":-0}'), False),
        (_top(body=b'{"a":01}'), False),
        (_top(body=b'{"a":1.0}'), False),
        (_top(body=b'{"a":1e3}'), False),
        (_top(body=b'{"a":9007199254740991}'), True),
        (_top(body=b'{"a":-9007199254740991}'), True),
        (_top(body=b'{"a":9007199254740992}'), False),
        (_top(body=b'{"a": 1}'), False),  # white space
        (_top(body=b"[]"), False),
        (_top(index=b"-1"), False),
        (_top(index=b"9007199254740992"), False),
        (_top(prev=b"A" * 64), False),  # upper-case hex
        (_top(prev=b"0" * 63), False),
        (_top(v=b"true"), False),
        (_top(v=b"1.0"), False),
        (_top(v=b"2"), False),
        (_top() + b" ", False),
    ],
)
def test_tricky_bytes(raw: bytes, accepted: bool) -> None:
    native, reference = _verdicts(raw)
    assert native == reference
    assert (native is not None) is accepted


def test_entry_link_diagnoses_what_it_refuses() -> None:
    with pytest.raises(EncodingError, match="format version"):
        encoding.entry_link(_top(v=b"true"))
    with pytest.raises(EncodingError, match="prev_hash"):
        encoding.entry_link(_top(prev=b"A" * 64))


def test_entry_link_takes_only_bytes() -> None:
    with pytest.raises(TypeError):
        _canonical.entry_link(bytearray(_top()))  # type: ignore[arg-type]


# -- runs of entries ----------------------------------------------------------------------


def _chain(count: int, first: int = 7) -> tuple[list[bytes], list[bytes], bytes]:
    """A correctly chained run of entries: their bytes, their leaf hashes, the prev before."""
    start_prev = b"\x22" * 32
    raws: list[bytes] = []
    hashes: list[bytes] = []
    prev = start_prev
    for i in range(count):
        raw = encode_entry(
            index=first + i,
            prev_hash=prev,
            timestamp="2026-01-01T00:00:00.000000Z",
            type="t",
            subject=None,
            body={"i": i},
        )
        prev = leaf_hash(raw)
        raws.append(raw)
        hashes.append(prev)
    return raws, hashes, start_prev


@_FAST
@given(st.integers(0, 6), st.data())
def test_linked_run_agrees_with_the_reference(count: int, data: st.DataObject) -> None:
    """A run stops at the first entry that is not canonical, is misnumbered or does not
    chain to the hash before it; both versions stop at the same place."""
    raws, hashes, prev = _chain(count)
    if count and data.draw(st.booleans()):
        at = data.draw(st.integers(0, count - 1))
        fault = data.draw(st.sampled_from(["byte", "hash", "swap", "prev"]))
        if fault == "byte":
            raws[at] = raws[at].replace(b'"t"', b'"u"')  # still canonical: breaks the next link
        elif fault == "hash":
            hashes[at] = bytes(32)
        elif fault == "swap" and at + 1 < count:
            raws[at], raws[at + 1] = raws[at + 1], raws[at]
        elif fault == "prev":
            prev = data.draw(st.sampled_from([bytes(32), b"", b"\x22" * 31]))
    native = _canonical.linked_run(raws, hashes, 7, prev)
    assert native == encoding._linked_run_reference(raws, hashes, 7, prev)
    assert 0 <= native <= count


def test_linked_run_counts_a_whole_good_run() -> None:
    raws, hashes, prev = _chain(5)
    assert _canonical.linked_run(raws, hashes, 7, prev) == 5
    assert _canonical.linked_run(raws, hashes, 8, prev) == 0  # misnumbered from the start
    raws[3] = raws[3][:-1]
    assert _canonical.linked_run(raws, hashes, 7, prev) == 3


def test_linked_run_refuses_the_wrong_arguments() -> None:
    raws, hashes, prev = _chain(3)
    with pytest.raises(ValueError, match="hash for every entry"):
        _canonical.linked_run(raws, hashes[:1], 7, prev)
    with pytest.raises(TypeError):
        _canonical.linked_run(tuple(raws), hashes, 7, prev)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _canonical.linked_run(raws, [1, 2, 3], 7, prev)  # type: ignore[list-item]


def _fields(
    prev: bytes = b'"' + _ZERO + b'"', subject: bytes = b"null", ts: bytes = b'"t"'
) -> bytes:
    return (
        b'{"body":{},"index":0,"prev_hash":' + prev + b',"subject":' + subject + b","
        b'"timestamp":' + ts + b',"type":"x","v":1}'
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_fields(prev=b"5"), "prev_hash"),
        (_fields(prev=b"null"), "prev_hash"),
        (_fields(ts=b"5"), "timestamp, type or body"),
        (_fields(ts=b"null"), "timestamp, type or body"),
        (_fields(subject=b"5"), "subject"),
        (_fields(subject=b"true"), "subject"),
        (_fields(subject=b'["c"]'), "subject"),
    ],
)
def test_fields_of_the_wrong_type_are_refused_by_both(raw: bytes, message: str) -> None:
    """A number or null where a string belongs is refused by the compiled and the reference
    check alike, and entry_link names the field in an EncodingError."""
    assert _verdicts(raw) == (None, None)
    assert _verdicts(_fields(subject=b'"c"')) == ((0, bytes(32)),) * 2
    with pytest.raises(EncodingError, match=message):
        encoding.entry_link(raw)
