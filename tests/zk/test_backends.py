"""The two backends compute the same group: same bytes, same decisions on hostile input,
proofs made on one verify on the other. Plus the pure-Python arithmetic against py_ecc."""

from __future__ import annotations

import hashlib
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.bls.hash_to_curve import hash_to_G1
from py_ecc.bls.point_compression import compress_G1
from py_ecc.optimized_bls12_381.optimized_curve import G1, add, multiply

from privacy.zk import _curve, pedersen, proofs
from privacy.zk.backend import BACKENDS, available, current, get, use
from privacy.zk.errors import BackendUnavailable, InvalidEnvelope
from privacy.zk.predicates import AtLeast, Between, OneOf

scalars = st.integers(min_value=0, max_value=pedersen.ORDER - 1)
Q = _curve.Q


def _encode_x(x: int, y_flag: int) -> bytes:
    return (x | (1 << 383) | (y_flag << 381)).to_bytes(48, "big")


def _curve_point_outside_g1() -> tuple[int, int]:
    """A point of E(F_q) that is not in G1: a random x on the curve, cofactor not cleared."""
    while True:
        x = secrets.randbelow(Q)
        rhs = (x**3 + 4) % Q
        y = pow(rhs, (Q + 1) // 4, Q)
        if y * y % Q == rhs and not _curve.in_subgroup((x, y, 1)):
            return x, y


def _x_off_the_curve() -> int:
    while True:
        x = secrets.randbelow(Q)
        rhs = (x**3 + 4) % Q
        if pow(rhs, (Q - 1) // 2, Q) == Q - 1:
            return x


def hostile_encodings() -> dict[str, bytes]:
    x, y = _curve_point_outside_g1()
    generator = pedersen.generators().g
    gx = int.from_bytes(generator, "big") & ((1 << 381) - 1)
    return {
        "identity": bytes([0xC0]) + bytes(47),
        "identity_with_sign": bytes([0xE0]) + bytes(47),
        "zero": bytes(48),
        "uncompressed_flag": (int.from_bytes(generator, "big") & ~(1 << 383)).to_bytes(48, "big"),
        "off_curve": _encode_x(_x_off_the_curve(), 0),
        "outside_subgroup": _encode_x(x, (2 * y) // Q),
        "x_not_reduced": _encode_x(gx + Q, 0) if gx + Q < 1 << 381 else _encode_x(Q, 0),
        "x_equals_q": _encode_x(Q, 0),
        "short": generator[:47],
        "long": generator + b"\x00",
    }


@pytest.mark.parametrize("name", BACKENDS)
def test_every_hostile_encoding_is_refused(name: str) -> None:
    b = get(name)
    for label, data in hostile_encodings().items():
        with pytest.raises(InvalidEnvelope):
            b.decode(data)
        assert label  # every case ran


def test_torsion_points_are_refused() -> None:
    """A valid point plus a point of small order (r·P for P outside G1: its order divides
    the cofactor) stays on the curve but leaves G1."""
    x, y = _curve_point_outside_g1()
    torsion = _curve._mul_small((x, y, 1), _curve.ORDER)
    assert not _curve.is_inf(torsion)
    assert _curve.is_inf(_curve._mul_small(torsion, 0x396C8C005555E1568C00AAAB0000AAAB))
    valid = _curve.GENERATOR
    shifted = _curve.add(valid, torsion)
    encoded = get("py_ecc").encode(shifted)
    for name in BACKENDS:
        with pytest.raises(InvalidEnvelope):
            get(name).decode(encoded)


def _with_flags(flags: int, data: bytes) -> bytes:
    """The three flag bits set as given, so most cases get past the flag check."""
    return bytes([flags | (data[0] & 0x1F)]) + data[1:]


@settings(deadline=None, max_examples=300)
@given(
    st.binary(min_size=48, max_size=48)
    | st.builds(
        _with_flags, st.sampled_from([0x80, 0xA0, 0xC0, 0xE0]), st.binary(min_size=48, max_size=48)
    )
)
def test_backends_agree_on_arbitrary_bytes(data: bytes) -> None:
    verdicts: list[bytes | None] = []
    for name in BACKENDS:
        try:
            verdicts.append(get(name).encode(get(name).decode(data)))
        except InvalidEnvelope:
            verdicts.append(None)
    assert verdicts[0] == verdicts[1]


@settings(deadline=None, max_examples=15)
@given(st.lists(st.tuples(scalars, scalars), min_size=1, max_size=6))
def test_msm_matches_py_ecc(pairs: list[tuple[int, int]]) -> None:
    """Σ kᵢ·(sᵢ·G) on both backends equals py_ecc's own multiply-and-add."""
    expected = None
    for s, k in pairs:
        term = multiply(G1, s * k % pedersen.ORDER)
        expected = term if expected is None else add(expected, term)
    assert expected is not None
    want = int(compress_G1(expected)).to_bytes(48, "big")
    for name in BACKENDS:
        b = get(name)
        points = [b.mul(b.generator(), s) for s, _ in pairs]
        assert b.encode(b.msm(points, [k for _, k in pairs])) == want
        total = b.identity()
        for p, (_, k) in zip(points, pairs, strict=True):
            total = b.add(total, b.mul(p, k))
        assert b.encode(total) == want


@pytest.mark.parametrize("message", [b"", b"abc", b"custos/zk/pedersen/H", bytes(range(256))])
def test_hash_to_curve_matches(message: bytes) -> None:
    dst = pedersen.DST
    reference = hash_to_G1(message, dst, hashlib.sha256)  # type: ignore[arg-type]
    want = int(compress_G1(reference)).to_bytes(48, "big")
    for name in BACKENDS:
        b = get(name)
        assert b.encode(b.hash_to_g1(message, dst)) == want


def test_identity_and_generator_encode_alike() -> None:
    encodings = {
        (get(n).encode(get(n).identity()), get(n).encode(get(n).generator())) for n in BACKENDS
    }
    assert encodings == {(bytes([0xC0]) + bytes(47), int(compress_G1(G1)).to_bytes(48, "big"))}


@pytest.mark.parametrize("scheme", proofs.SCHEMES)
@pytest.mark.parametrize(("prover", "verifier"), [("py_ecc", "arkworks"), ("arkworks", "py_ecc")])
def test_proofs_verify_across_backends(prover: str, verifier: str, scheme: str) -> None:
    r1, r2 = pedersen.random_scalar(), pedersen.random_scalar()
    with use(prover):
        claims = [
            proofs.Claim(pedersen.commit(3_200_000, r1), AtLeast(3_000_000), 24),
            proofs.Claim(pedersen.commit(4, r2), OneOf((4, 5)), 8),
            proofs.Claim(pedersen.commit(4, r2), Between(1, 5), 3),
        ]
        witnesses = [proofs.Witness(3_200_000, r1), proofs.Witness(4, r2), proofs.Witness(4, r2)]
        envelope = proofs.prove(claims, witnesses, {"nonce": "x"}, scheme=scheme)
    with use(verifier):
        assert proofs.verify(envelope).valid
        assert pedersen.commit(3_200_000, r1) == claims[0].commitment


def test_backend_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(available()) == set(BACKENDS)
    monkeypatch.delenv("CUSTOS_ZK_BACKEND", raising=False)
    assert current().name == "arkworks"  # the default when it is installed
    monkeypatch.setenv("CUSTOS_ZK_BACKEND", "py_ecc")
    assert current().name == "py_ecc"
    with use("arkworks"):
        assert current().name == "arkworks"
    assert current().name == "py_ecc"
    monkeypatch.setenv("CUSTOS_ZK_BACKEND", "gmp")
    with pytest.raises(BackendUnavailable):
        current()


@settings(deadline=None, max_examples=200)
@given(scalars)
def test_glv_split(k: int) -> None:
    k1, k2 = _curve.glv_split(k)
    assert (k1 + k2 * _curve.LAMBDA) % _curve.ORDER == k
    assert 0 <= k1 < 2**128 and 0 <= k2 < 2**128 + 2


def test_subgroup_test_matches_multiplication_by_the_order() -> None:
    for _ in range(5):
        x, y = _curve_point_outside_g1()
        p = (x, y, 1)
        assert not _curve.is_inf(_curve._mul_small(p, _curve.ORDER))
        cleared = _curve._mul_small(p, 0x396C8C005555E1568C00AAAB0000AAAB)
        assert _curve.in_subgroup(cleared)
        assert _curve.is_inf(_curve._mul_small(cleared, _curve.ORDER))
