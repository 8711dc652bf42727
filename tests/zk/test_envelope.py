"""The envelope is parsed strictly: any flipped byte, any non-canonical scalar or point,
any wrong member or size is rejected, and verify never raises on hostile input."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.zk import pedersen, proofs
from privacy.zk.backend import Backend, use
from privacy.zk.envelope import (
    MAX_CLAIMS,
    MAX_CONTEXT_KEYS,
    MAX_CONTEXT_VALUE,
    b64,
    parse_bytes,
    parse_scalar,
    scalar_text,
)
from privacy.zk.errors import InvalidEnvelope, InvalidStatement
from privacy.zk.predicates import AtLeast, Equals, OneOf, Opening, Predicate
from tests.zk.test_backends import hostile_encodings

CONTEXT = {"protocol": "custos-zk-flow/1", "nonce": "n-123", "client": "p-1", "consent": "d"}


@pytest.fixture(params=["py_ecc", "arkworks"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with use(request.param) as b:
        yield b


def _envelope(scheme: str, n: int = 4) -> dict[str, Any]:
    parts: list[tuple[int, Predicate]] = [(9, AtLeast(5)), (3, OneOf((2, 3))), (1, Opening())]
    claims, witnesses = [], []
    for value, predicate in parts:
        r = pedersen.random_scalar()
        claims.append(proofs.Claim(pedersen.commit(value, r), predicate, n))
        witnesses.append(proofs.Witness(value, r))
    return proofs.prove(claims, witnesses, CONTEXT, scheme=scheme)


def _rejects(data: bytes) -> bool:
    try:
        obj = json.loads(data)
    except ValueError:  # not UTF-8 or not JSON: refused before the core sees it
        return True
    return not isinstance(obj, dict) or not proofs.verify(obj).valid


@pytest.mark.parametrize("scheme", proofs.SCHEMES)
def test_every_flipped_byte_is_rejected(scheme: str) -> None:
    """Every position of the serialized envelope, flipped to a random other byte (fast
    backend); the same for a sample of positions on the pure-Python backend."""
    rng = random.Random()  # noqa: S311 - picks test positions, not keys
    with use("arkworks"):
        envelope = _envelope(scheme)
        data = json.dumps(envelope, separators=(",", ":")).encode()
        assert proofs.verify(envelope).valid
        for i in range(len(data)):
            flipped = bytearray(data)
            flipped[i] ^= rng.randrange(1, 256)
            assert _rejects(bytes(flipped)), (i, data[max(0, i - 20) : i + 20])
    with use("py_ecc"):
        for i in rng.sample(range(len(data)), 12):
            flipped = bytearray(data)
            flipped[i] ^= rng.randrange(1, 256)
            assert _rejects(bytes(flipped)), i


def _strings(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every base64url value of the proof and the claims, with its path."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, (*path, i))
    elif isinstance(node, str) and len(node) in (43, 64) and path[0] in ("proof", "claims"):
        yield path, node


def _set(envelope: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    edited = copy.deepcopy(envelope)
    node: Any = edited
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return edited


@pytest.mark.parametrize("scheme", proofs.SCHEMES)
def test_non_canonical_scalars_are_rejected(backend: Backend, scheme: str) -> None:
    envelope = _envelope(scheme)
    scalars = [(p, s) for p, s in _strings(envelope) if len(s) == 43]
    assert scalars
    for path, text in scalars:
        value = parse_scalar(text, "s")
        for bad in (value + pedersen.ORDER, 2**256 - 1):
            if bad < 2**256:
                verdict = proofs.verify(_set(envelope, path, b64(bad.to_bytes(32, "big"))))
                assert not verdict.valid and "canonical scalar" in verdict.reason, path


@pytest.mark.parametrize("scheme", proofs.SCHEMES)
def test_hostile_points_are_rejected_everywhere(backend: Backend, scheme: str) -> None:
    envelope = _envelope(scheme)
    points = [(p, s) for p, s in _strings(envelope) if len(s) == 64]
    assert any(p[0] == "claims" for p, _ in points) and any(p[0] == "proof" for p, _ in points)
    hostile = {k: v for k, v in hostile_encodings().items() if len(v) == 48}
    for path, _ in points[:: max(1, len(points) // 6)] + points[:1]:
        for label, data in hostile.items():
            verdict = proofs.verify(_set(envelope, path, b64(data)))
            assert not verdict.valid and "malformed" in verdict.reason, (path, label)


def test_non_canonical_base64_is_rejected() -> None:
    good = scalar_text(12345)
    assert parse_scalar(good, "s") == 12345
    last = good[-1]
    # 43 characters carry 258 bits for 256: the last character's two low bits must be 0.
    sibling = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    high = sibling.index(last) >> 2
    same_bits = [c for c in sibling if c != last and sibling.index(c) >> 2 == high]
    for bad in [
        good + "=",
        good[:-1],
        good + "A",
        good[:-1] + same_bits[0],
        good.replace(good[0], "+", 1),
        good.replace(good[0], "/", 1),
        " " + good[1:],
        good[:-1] + "\n",
        12345,
        None,
    ]:
        with pytest.raises(InvalidEnvelope):
            parse_scalar(bad, "s")
    with pytest.raises(InvalidEnvelope):
        parse_bytes("\uff21" * 43, 32, "s")  # a non-ASCII look-alike of "A"


def _members_cases(envelope: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key in list(envelope):
        edited = copy.deepcopy(envelope)
        del edited[key]
        yield f"missing {key}", edited
    yield "extra top member", {**copy.deepcopy(envelope), "note": "x"}
    yield "extra claim member", _set(envelope, ("claims", 0, "extra"), 1)
    yield (
        "missing claim member",
        {
            **copy.deepcopy(envelope),
            "claims": [
                {k: v for k, v in envelope["claims"][0].items() if k != "bits"},
                *envelope["claims"][1:],
            ],
        },
    )
    yield "extra proof member", _set(envelope, ("proof", "extra"), "x")
    yield "extra proof part member", _set(envelope, ("proof", "claims", 2, "extra"), "x")
    yield "extra range member", _set(envelope, ("proof", "claims", 0, "ranges", 0, "x"), "x")
    yield "format", _set(envelope, ("format",), "custos-zk-proof-2")
    yield "version 2", _set(envelope, ("version",), 2)
    yield "version true", _set(envelope, ("version",), True)
    yield "version string", _set(envelope, ("version",), "1")
    yield "version float", _set(envelope, ("version",), 1.0)
    yield "scheme", _set(envelope, ("scheme",), "groth16")
    yield "scheme type", _set(envelope, ("scheme",), ["bits-v1"])
    yield "bits 0", _set(envelope, ("claims", 0, "bits"), 0)
    yield "bits 41", _set(envelope, ("claims", 0, "bits"), 41)
    yield "bits string", _set(envelope, ("claims", 0, "bits"), "4")
    yield "predicate", _set(envelope, ("claims", 0, "predicate"), {"type": "at_least"})
    yield "no claims", _set(envelope, ("claims",), [])
    yield "claims not list", _set(envelope, ("claims",), {"0": envelope["claims"][0]})
    yield "too many claims", _set(envelope, ("claims",), envelope["claims"] * 3)
    yield "proof parts short", _set(envelope, ("proof", "claims"), envelope["proof"]["claims"][:2])
    yield "proof not object", _set(envelope, ("proof",), [])
    yield "context value", _set(envelope, ("context", "nonce"), 5)
    yield "context key", _set(envelope, ("context", "Nonce"), "x")
    yield "context key empty", _set(envelope, ("context", ""), "x")
    yield "context nested", _set(envelope, ("context", "nonce"), {"a": "b"})
    yield "context too long", _set(envelope, ("context", "nonce"), "x" * (MAX_CONTEXT_VALUE + 1))
    yield (
        "context too many",
        _set(envelope, ("context",), {f"k{i}": "v" for i in range(MAX_CONTEXT_KEYS + 1)}),
    )
    yield "context list", _set(envelope, ("context",), [["nonce", "n"]])
    yield "context lone surrogate", _set(envelope, ("context", "nonce"), "\ud800")
    yield (
        "one_of responses short",
        _set(
            envelope,
            ("proof", "claims", 1, "responses"),
            envelope["proof"]["claims"][1]["responses"][:1],
        ),
    )
    yield (
        "one_of challenges long",
        _set(
            envelope,
            ("proof", "claims", 1, "challenges"),
            envelope["proof"]["claims"][1]["challenges"] * 2,
        ),
    )
    yield "range list", _set(envelope, ("proof", "claims", 0, "ranges"), [])
    yield "not an object", [envelope]


@pytest.mark.parametrize("scheme", proofs.SCHEMES)
def test_wrong_members_types_and_sizes_are_rejected(backend: Backend, scheme: str) -> None:
    envelope = _envelope(scheme)
    assert proofs.verify(envelope).valid
    assert MAX_CLAIMS < 9
    for label, edited in _members_cases(envelope):
        verdict = proofs.verify(edited)
        assert not verdict.valid and verdict.reason.startswith("malformed"), label


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


# Built on first use, inside the fast backend, and shared by the examples.
_BASE: dict[str, dict[str, Any]] = {}


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), scheme=st.sampled_from(proofs.SCHEMES))
def test_verify_never_raises_on_mutated_envelopes(data: st.DataObject, scheme: str) -> None:
    with use("arkworks"):
        if scheme not in _BASE:
            _BASE[scheme] = _envelope(scheme, n=3)
        envelope = _BASE[scheme]
        path = data.draw(st.sampled_from(_paths(envelope)))
        value = data.draw(json_values)
        edited = _set(envelope, path, value)
        verdict = proofs.verify(edited)
        if edited != envelope:
            assert not verdict.valid


@settings(deadline=None, max_examples=100)
@given(json_values)
def test_verify_never_raises_on_arbitrary_json(value: Any) -> None:
    assert not proofs.verify(value).valid


def test_prove_refuses_malformed_statements(backend: Backend) -> None:
    r = pedersen.random_scalar()
    good = proofs.Claim(pedersen.commit(1, r), Equals(1), 8)
    w = proofs.Witness(1, r)
    cases: list[tuple[list[proofs.Claim], list[proofs.Witness], dict[str, str], str]] = [
        ([good], [w], CONTEXT, "groth16"),
        ([], [], CONTEXT, "bits-v1"),
        ([good] * (MAX_CLAIMS + 1), [w] * (MAX_CLAIMS + 1), CONTEXT, "bits-v1"),
        ([good], [], CONTEXT, "bits-v1"),
        ([proofs.Claim(good.commitment[:47], Equals(1), 8)], [w], CONTEXT, "bits-v1"),
        ([proofs.Claim(good.commitment, Equals(1), 41)], [w], CONTEXT, "bits-v1"),
        ([proofs.Claim(good.commitment, Equals(1), 0)], [w], CONTEXT, "bits-v1"),
        ([proofs.Claim(good.commitment, Equals(2**63), 8)], [w], CONTEXT, "bits-v1"),
        ([good], [w], {"Bad Key": "x"}, "bits-v1"),
    ]
    for claims, witnesses, context, scheme in cases:
        with pytest.raises(InvalidStatement):
            proofs.prove(claims, witnesses, context, scheme=scheme)


def test_envelope_shape(backend: Backend) -> None:
    envelope = _envelope("bits-v1")
    assert set(envelope) == {"format", "version", "scheme", "context", "claims", "proof"}
    assert envelope["format"] == "custos-zk-proof" and envelope["version"] == 1
    assert envelope["context"] == CONTEXT
    assert envelope["claims"][0] == {
        "commitment": envelope["claims"][0]["commitment"],
        "bits": 4,
        "predicate": {"type": "at_least", "threshold": 5},
    }
    json.dumps(envelope)  # plain JSON all the way down


def test_the_statement_can_be_read_before_verifying(backend: Backend) -> None:
    envelope = _envelope("bits-v1")
    scheme, context, claims = proofs.read_statement(envelope)
    assert scheme == "bits-v1" and context == CONTEXT
    assert [c.to_json() for c in claims] == envelope["claims"]
    with pytest.raises(InvalidEnvelope):
        proofs.read_statement(_set(envelope, ("claims", 0, "bits"), 0))
