"""Batch verification (privacy/zk/batch.py): many equations Σ kᵢ·Pᵢ = O in one multi-scalar
multiplication under fresh random weights. Honest batches hold, one false equation sinks
the batch exactly when checking each alone would, and the weights are random enough that
errors crafted to cancel under fixed weights do not."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.zk import batch as batch_module
from privacy.zk import bulletproofs, pedersen, proofs
from privacy.zk.backend import Backend, Point, use
from privacy.zk.batch import WEIGHT_BITS, Batch, random_weight
from privacy.zk.predicates import AtLeast, AtMost, Between

CONTEXT = {"nonce": "n", "department": "advisory"}
ORDER = pedersen.ORDER


@pytest.fixture(params=["py_ecc", "arkworks"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with use(request.param) as b:
        yield b


Equation = tuple[list[Point], list[int]]


def _equation(b: Backend, logs: list[int], scalars: list[int]) -> Equation:
    """Σ kᵢ·(aᵢ·G) - (Σ kᵢ·aᵢ)·G = O: true by construction, over points whose logs we know."""
    g = b.generator()
    points = [b.mul(g, a) for a in logs]
    balance = -sum(a * k for a, k in zip(logs, scalars, strict=True)) % ORDER
    return [*points, g], [*scalars, balance]


def _holds_alone(b: Backend, eq: Equation) -> bool:
    return bool(b.is_identity(b.msm(*eq)))


def _batch(b: Backend, equations: list[Equation]) -> bool:
    batch = Batch(b)
    for points, scalars in equations:
        batch.add(points, scalars)
    return batch.holds()


def test_honest_equations_hold_together(backend: Backend) -> None:
    rng = secrets.SystemRandom()
    equations = [
        _equation(backend, [rng.randrange(1, ORDER) for _ in range(3)], [rng.randrange(ORDER)] * 3)
        for _ in range(4)
    ]
    assert all(_holds_alone(backend, eq) for eq in equations)
    assert _batch(backend, equations)


def test_one_flipped_scalar_sinks_the_batch(backend: Backend) -> None:
    equations = [_equation(backend, [5, 7], [11, 13]) for _ in range(3)]
    points, scalars = equations[1]
    equations[1] = (points, [scalars[0] + 1, *scalars[1:]])  # now 5·G short of O
    assert not _holds_alone(backend, equations[1])
    assert not _batch(backend, equations)


def test_shared_point_objects_are_merged_without_changing_the_answer(backend: Backend) -> None:
    """The same generator object in several equations becomes one term of the MSM."""
    g = backend.generator()
    p = backend.mul(g, 9)
    batch = Batch(backend)
    batch.add([p, g], [1, -9])
    batch.add([p, g], [2, -18])
    assert len(batch._points) == 2 and batch.equations == 2
    assert batch.holds()
    batch.add([p, g], [3, -26])  # false: 1·G left over
    assert not batch.holds()


def test_errors_that_cancel_under_fixed_weights_are_caught(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two false equations, +D and -D: with equal weights their sum is O. Under the real
    (random) weights ρ₁·D - ρ₂·D = O only if ρ₁ = ρ₂, probability 2^-128."""
    g = backend.generator()
    d = backend.mul(g, 12345)
    minus_d = backend.neg(d)
    # Separate objects (two terms) and one shared object (one merged term): both cancel.
    crafted = [([d], [1]), ([minus_d], [1])], [([d], [1]), ([d], [-1])]
    for equations in crafted:
        assert not any(_holds_alone(backend, eq) for eq in equations)
        assert not _batch(backend, [(list(p), list(k)) for p, k in equations])
    with monkeypatch.context() as m:
        m.setattr(batch_module, "random_weight", lambda: 1)
        for equations in crafted:  # what fixed weights would let through
            assert _batch(backend, [(list(p), list(k)) for p, k in equations])


def test_the_weights_are_fresh_full_width_and_distinct(monkeypatch: pytest.MonkeyPatch) -> None:
    weights = [random_weight() for _ in range(2000)]
    assert all(1 <= w < 1 << WEIGHT_BITS for w in weights)
    assert len(set(weights)) == len(weights)
    # Both halves of the width are used: not a small or truncated range.
    assert max(weights).bit_length() > WEIGHT_BITS - 8
    assert any(w & ((1 << 64) - 1) for w in weights) and any(w >> 64 for w in weights)
    # One weight per equation, drawn when it is added: a verifier that reused one across
    # equations (or across verifications) would be caught here.
    drawn: list[int] = []
    real = batch_module.random_weight

    def spy() -> int:
        drawn.append(real())
        return drawn[-1]

    monkeypatch.setattr(batch_module, "random_weight", spy)
    with use("arkworks") as b:
        for _ in range(2):
            _batch(b, [_equation(b, [2], [3]), _equation(b, [4], [5])])
    assert len(drawn) == 4 and len(set(drawn)) == 4


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=5),
    broken=st.sets(st.integers(min_value=0, max_value=4)),
    offset=st.integers(min_value=1, max_value=ORDER - 1),
    data=st.data(),
)
def test_the_batch_agrees_with_checking_each_equation_alone(
    sizes: list[int], broken: set[int], offset: int, data: st.DataObject
) -> None:
    scalar = st.integers(min_value=0, max_value=ORDER - 1)
    with use("arkworks") as b:
        equations = []
        for i, size in enumerate(sizes):
            logs = data.draw(st.lists(scalar, min_size=size, max_size=size))
            ks = data.draw(st.lists(scalar, min_size=size, max_size=size))
            points, scalars = _equation(b, logs, ks)
            if i in broken:
                scalars[-1] = (scalars[-1] + offset) % ORDER  # off by offset·G ≠ O
            equations.append((points, scalars))
        alone = [_holds_alone(b, eq) for eq in equations]
        assert _batch(b, equations) == all(alone)
        assert all(alone) == (not broken & set(range(len(sizes))))


# -- range proofs: the batch of an envelope ----------------------------------------------


def _envelope(forged: set[int], claims: list[tuple[int, Any, int]]) -> dict[str, Any]:
    """Bulletproofs over several range claims; the range proofs of the claims in ``forged``
    are made for a wrong blinding (a prover who knows the value but not the opening), so
    their transcripts are honest and only the batched equations can catch them."""
    real = bulletproofs.prove

    def prove(b: Backend, base: Any, t: Any, label: str, d: int, rho: int, n: int) -> Any:
        index = int(label.split("]")[0].removeprefix("claims["))
        return real(b, base, t, label, d, rho + (index in forged), n)

    made, witnesses = [], []
    for value, predicate, n in claims:
        r = pedersen.random_scalar()
        made.append(proofs.Claim(pedersen.commit(value, r), predicate, n))
        witnesses.append(proofs.Witness(value, r))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(bulletproofs, "prove", prove)
        return proofs.prove(made, witnesses, CONTEXT, scheme="bulletproofs-v1")


CLAIMS = [(50, AtLeast(10), 8), (200, Between(100, 300), 8), (3, AtMost(7), 4)]


def test_honest_range_proofs_verify_in_one_batch(backend: Backend) -> None:
    verdict = proofs.verify(_envelope(set(), CLAIMS))
    assert (verdict.valid, verdict.reason) == (True, "ok")


@pytest.mark.parametrize("forged", [{0}, {1}, {2}, {0, 2}])
def test_one_forged_range_proof_sinks_the_envelope(backend: Backend, forged: set[int]) -> None:
    verdict = proofs.verify(_envelope(forged, CLAIMS))
    assert (verdict.valid, verdict.reason) == (False, "the range proofs do not verify")


@settings(deadline=None, max_examples=8, suppress_health_check=[HealthCheck.too_slow])
@given(forged=st.sets(st.integers(min_value=0, max_value=len(CLAIMS) - 1)))
def test_the_envelope_verdict_agrees_with_each_range_proof_alone(forged: set[int]) -> None:
    with use("arkworks"):
        together = proofs.verify(_envelope(forged, CLAIMS)).valid
        alone = [
            proofs.verify(_envelope({0} if i in forged else set(), [claim])).valid
            for i, claim in enumerate(CLAIMS)
        ]
    assert alone == [i not in forged for i in range(len(CLAIMS))]
    assert together == all(alone)
