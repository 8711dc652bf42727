"""Bulletproofs range proofs: documented generators, logarithmic size (a threshold proof
under 1 KB), padded widths, and that editing any part of the proof breaks it."""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from py_ecc.bls.hash_to_curve import hash_to_G1
from py_ecc.bls.point_compression import compress_G1

from privacy.zk import bulletproofs, pedersen, proofs
from privacy.zk.backend import Backend, use
from privacy.zk.envelope import parse_scalar, scalar_text
from privacy.zk.predicates import AtLeast, Between, Predicate

CONTEXT = {"nonce": "n", "department": "advisory"}


@pytest.fixture(params=["py_ecc", "arkworks"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with use(request.param) as b:
        yield b


def _prove(value: int, predicate: Predicate, n: int) -> dict[str, Any]:
    r = pedersen.random_scalar()
    claim = proofs.Claim(pedersen.commit(value, r), predicate, n)
    return proofs.prove([claim], [proofs.Witness(value, r)], CONTEXT, scheme="bulletproofs-v1")


def _raw_size(node: Any) -> int:
    """Bytes of the points and scalars in a proof object (what base64url spells)."""
    if isinstance(node, str):
        return len(base64.urlsafe_b64decode(node + "=" * (-len(node) % 4)))
    if isinstance(node, list):
        return sum(_raw_size(x) for x in node)
    return sum(_raw_size(x) for x in node.values())


def test_generators_are_the_documented_hashes(backend: Backend) -> None:
    gens = bulletproofs.bp_generators(backend)
    assert len(gens.g) == len(gens.h) == 64
    for label, points in (("g", gens.g), ("h", gens.h)):
        for i in (0, 1, 63):
            message = b"custos/zk/bulletproofs/" + label.encode() + i.to_bytes(4, "big")
            reference = hash_to_G1(message, bulletproofs.DST, hashlib.sha256)  # type: ignore[arg-type]
            want = compress_G1(reference)
            assert backend.encode(points[i]) == int(want).to_bytes(48, "big")
    u_message = b"custos/zk/bulletproofs/U"
    u = compress_G1(hash_to_G1(u_message, bulletproofs.DST, hashlib.sha256))  # type: ignore[arg-type]
    assert backend.encode(gens.u) == int(u).to_bytes(48, "big")
    everything = [*gens.g, *gens.h, gens.u, pedersen.bases(backend).g, pedersen.bases(backend).h]
    assert len({backend.encode(p) for p in everything}) == len(everything)


@pytest.mark.parametrize("n", [32, 40])
def test_a_threshold_proof_is_under_one_kilobyte(n: int) -> None:
    with use("arkworks"):
        envelope = _prove(3_500_000, AtLeast(3_000_000), n)
    proof = envelope["proof"]
    size = _raw_size(proof)
    rounds = 3 if n == 32 else 4
    # A, S, T1, T2, 2·rounds L/R points; τx, μ, t̂, the final vectors a and b (4 entries
    # each) and the envelope's challenge.
    assert size == 48 * (4 + 2 * rounds) + 32 * (3 + 8 + 1)
    assert size <= 1024
    with use("arkworks"):
        assert proofs.verify(envelope).valid


@pytest.mark.parametrize(
    ("n", "rounds", "tail"),
    [(1, 0, 1), (2, 0, 2), (3, 0, 4), (5, 1, 4), (17, 3, 4), (33, 4, 4), (40, 4, 4)],
)
def test_widths_that_are_not_powers_of_two(
    backend: Backend, n: int, rounds: int, tail: int
) -> None:
    envelope = _prove(2**n - 1, AtLeast(0), n)
    part = envelope["proof"]["claims"][0]["ranges"][0]
    assert len(part["L"]) == len(part["R"]) == rounds == bulletproofs.rounds(n)
    assert len(part["a"]) == len(part["b"]) == tail == bulletproofs.tail(n)
    assert proofs.verify(envelope).valid


def test_editing_any_part_of_the_proof_breaks_it(backend: Backend) -> None:
    envelope = _prove(200, Between(100, 300), 8)
    assert proofs.verify(envelope).valid
    another_point = base64.urlsafe_b64encode(pedersen.commit(1, 1)).rstrip(b"=").decode()
    ranges = envelope["proof"]["claims"][0]["ranges"]
    for j, part in enumerate(ranges):
        for key, item in part.items():
            for i in range(len(item) if isinstance(item, list) else 1):
                edited = copy.deepcopy(envelope)
                target = edited["proof"]["claims"][0]["ranges"][j]
                old = target[key][i] if isinstance(item, list) else target[key]
                new = another_point if len(old) == 64 else scalar_text(parse_scalar(old, "s") + 1)
                if isinstance(item, list):
                    target[key][i] = new
                else:
                    target[key] = new
                assert not proofs.verify(edited).valid, (j, key, i)
    swapped = copy.deepcopy(envelope)
    part = swapped["proof"]["claims"][0]["ranges"][0]
    part["L"], part["R"] = part["R"], part["L"]
    assert not proofs.verify(swapped).valid
    exchanged = copy.deepcopy(envelope)
    exchanged["proof"]["claims"][0]["ranges"].reverse()
    assert not proofs.verify(exchanged).valid


def test_a_proof_with_the_wrong_number_of_rounds_is_malformed(backend: Backend) -> None:
    envelope = _prove(5, AtLeast(0), 8)
    part = envelope["proof"]["claims"][0]["ranges"][0]
    part["L"].pop()
    verdict = proofs.verify(envelope)
    assert not verdict.valid and verdict.reason.startswith("malformed proof")


def test_a_proof_for_a_wrong_blinding_does_not_verify(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prover who knows the value but not the blinding (it proves for r + 1)."""
    real = bulletproofs.prove

    def off_by_one(b: Backend, base: Any, t: Any, label: str, d: int, rho: int, n: int) -> Any:
        return real(b, base, t, label, d, rho + 1, n)

    monkeypatch.setattr(bulletproofs, "prove", off_by_one)
    envelope = _prove(5, AtLeast(0), 8)
    monkeypatch.undo()
    assert not proofs.verify(envelope).valid
