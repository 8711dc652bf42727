"""Pedersen commitments: the generators, homomorphism, binding inputs, both backends."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.bls.hash_to_curve import hash_to_G1
from py_ecc.bls.point_compression import compress_G1
from py_ecc.optimized_bls12_381.optimized_curve import G1, add, multiply

from privacy.zk import pedersen
from privacy.zk.backend import Backend, use

values = st.integers(min_value=-(2**62), max_value=2**62)
scalars = st.integers(min_value=1, max_value=pedersen.ORDER - 1)


@pytest.fixture(params=["py_ecc", "arkworks"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with use(request.param) as b:
        yield b


def _reference(value: int, blinding: int) -> bytes:
    """The same commitment computed with nothing but py_ecc's own curve code."""
    h = hash_to_G1(pedersen.H_MESSAGE, pedersen.DST, hashlib.sha256)  # type: ignore[arg-type]
    point = add(multiply(G1, value % pedersen.ORDER), multiply(h, blinding % pedersen.ORDER))
    return int(compress_G1(point)).to_bytes(48, "big")


def test_generators_are_the_documented_ones(backend: Backend) -> None:
    gens = pedersen.generators()
    assert gens.dst == pedersen.DST and gens.h_message == pedersen.H_MESSAGE
    assert gens.g == int(compress_G1(G1)).to_bytes(48, "big")
    h = hash_to_G1(pedersen.H_MESSAGE, pedersen.DST, hashlib.sha256)  # type: ignore[arg-type]
    assert gens.h == int(compress_G1(h)).to_bytes(48, "big")
    assert len(gens.g) == len(gens.h) == 48 and gens.g != gens.h


def test_commitment_matches_plain_py_ecc(backend: Backend) -> None:
    for value, blinding in [(0, 1), (1, 1), (3_000_000, 987654321), (-7, pedersen.ORDER - 1)]:
        assert pedersen.commit(value, blinding) == _reference(value, blinding)


@pytest.mark.parametrize("name", ["py_ecc", "arkworks"])
@settings(deadline=None, max_examples=25)
@given(v1=values, r1=scalars, v2=values, r2=scalars)
def test_homomorphic(name: str, v1: int, r1: int, v2: int, r2: int) -> None:
    with use(name) as b:
        c1 = b.decode(pedersen.commit(v1, r1))
        c2 = b.decode(pedersen.commit(v2, r2))
        assert b.encode(b.add(c1, c2)) == pedersen.commit(v1 + v2, r1 + r2)


@settings(deadline=None, max_examples=25)
@given(value=values, blinding=scalars)
def test_backends_agree(value: int, blinding: int) -> None:
    with use("py_ecc"):
        slow = pedersen.commit(value, blinding)
    with use("arkworks"):
        fast = pedersen.commit(value, blinding)
    assert slow == fast


def test_random_scalar_is_in_range() -> None:
    drawn = {pedersen.random_scalar() for _ in range(200)}
    assert all(1 <= s < pedersen.ORDER for s in drawn)
    assert len(drawn) == 200  # 200 draws from ~2^255 values never collide


def test_values_are_reduced_modulo_the_order(backend: Backend) -> None:
    assert pedersen.commit(-1, 5) == pedersen.commit(pedersen.ORDER - 1, 5)
    assert pedersen.commit(2, 5 + pedersen.ORDER) == pedersen.commit(2, 5)
