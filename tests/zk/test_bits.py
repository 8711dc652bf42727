"""Range statements (v ≥ t, v ≤ t, low ≤ v ≤ high, age) on both schemes and both backends,
and the bit-decomposition scheme's own soundness: forged bits never verify."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.zk import bits, bulletproofs, pedersen, proofs
from privacy.zk._curve import ORDER
from privacy.zk.backend import Backend, Point, use
from privacy.zk.envelope import b64, parse_scalar, scalar_text
from privacy.zk.errors import PredicateFalse
from privacy.zk.predicates import (
    AgeAtLeast,
    AtLeast,
    AtMost,
    Between,
    Predicate,
    days_since_epoch,
)
from privacy.zk.sigma import OrProver

CONTEXT = {"request_id": "r", "nonce": "n", "department": "advisory", "consent": "c"}
SCHEMES = ["bits-v1", "bulletproofs-v1"]


@pytest.fixture(params=["py_ecc", "arkworks"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with use(request.param) as b:
        yield b


def _claim(value: int, predicate: Predicate, n: int) -> tuple[proofs.Claim, proofs.Witness]:
    r = pedersen.random_scalar()
    return proofs.Claim(pedersen.commit(value, r), predicate, n), proofs.Witness(value, r)


def _prove(value: int, predicate: Predicate, n: int, scheme: str) -> dict[str, Any]:
    claim, witness = _claim(value, predicate, n)
    return proofs.prove([claim], [witness], CONTEXT, scheme=scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_boundaries(backend: Backend, scheme: str) -> None:
    """The smallest and largest provable values verify; one step beyond cannot be proven."""
    t, n = 3_000_000, 8
    for value in (t, t + 2**n - 1):
        assert proofs.verify(_prove(value, AtLeast(t), n, scheme)).valid
        assert proofs.verify(_prove(2 * t - value, AtMost(t), n, scheme)).valid
    for value in (t - 1, t + 2**n, -t):
        with pytest.raises(PredicateFalse):
            _prove(value, AtLeast(t), n, scheme)
        with pytest.raises(PredicateFalse):
            _prove(2 * t - value, AtMost(t), n, scheme)
    assert proofs.verify(_prove(5, Between(5, 9), 4, scheme)).valid
    assert proofs.verify(_prove(9, Between(5, 9), 4, scheme)).valid
    for value in (4, 10):
        with pytest.raises(PredicateFalse):
            _prove(value, Between(5, 9), 4, scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_forty_bits(backend: Backend, scheme: str) -> None:
    assert proofs.verify(_prove(2**40 - 1, AtLeast(0), 40, scheme)).valid
    assert proofs.verify(_prove(1 - 2**39, AtMost(2**39), 40, scheme)).valid


@pytest.mark.parametrize("scheme", SCHEMES)
def test_age_from_a_committed_date_of_birth(backend: Backend, scheme: str) -> None:
    on = dt.date(2026, 12, 2)
    adult = days_since_epoch(dt.date(2008, 12, 2))
    minor = days_since_epoch(dt.date(2008, 12, 3))
    assert proofs.verify(_prove(adult, AgeAtLeast(18, on), 16, scheme)).valid
    assert proofs.verify(
        _prove(days_since_epoch(dt.date(1950, 1, 1)), AgeAtLeast(18, on), 16, scheme)
    ).valid
    with pytest.raises(PredicateFalse):
        _prove(minor, AgeAtLeast(18, on), 16, scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(
    threshold=st.integers(min_value=-(2**40), max_value=2**40),
    n=st.integers(min_value=1, max_value=12),
    delta=st.integers(min_value=-(2**13), max_value=2**13),
    kind=st.sampled_from(["at_least", "at_most"]),
)
def test_range_proofs_verify_exactly_when_the_value_is_in_range(
    scheme: str, threshold: int, n: int, delta: int, kind: str
) -> None:
    """Broad run on the fast backend: in range → a valid proof; outside → PredicateFalse."""
    value = threshold + delta if kind == "at_least" else threshold - delta
    predicate: Predicate = AtLeast(threshold) if kind == "at_least" else AtMost(threshold)
    with use("arkworks"):
        if 0 <= delta < 2**n:
            assert proofs.verify(_prove(value, predicate, n, scheme)).valid
        else:
            with pytest.raises(PredicateFalse):
                _prove(value, predicate, n, scheme)


def _wrapping_cheat(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    """A prover that skips the checks and proves d mod 2^n in place of d (so a value below
    the threshold looks like one far above it)."""
    monkeypatch.setattr(AtLeast, "holds", lambda self, v: True)
    monkeypatch.setattr(AtMost, "holds", lambda self, v: True)
    if scheme == "bits-v1":
        real = bits.BitRangeProver

        def wrapped_bits(b: Backend, base: Any, d: int, rho: int, n: int) -> Any:
            return real(b, base, d % (1 << n), rho, n)

        monkeypatch.setattr(proofs, "BitRangeProver", wrapped_bits)
    else:
        real_bp = bulletproofs.prove

        def wrapped_bp(b: Backend, base: Any, t: Any, label: str, d: int, rho: int, n: int) -> Any:
            return real_bp(b, base, t, label, d % (1 << n), rho, n)

        monkeypatch.setattr(bulletproofs, "prove", wrapped_bp)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_cheating_prover_cannot_prove_a_value_out_of_range(
    backend: Backend, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases: list[tuple[int, Predicate]] = [
        (2_999_999, AtLeast(3_000_000)),
        (10, AtMost(9)),
        (0, AtLeast(1)),
    ]
    envelopes = []
    with monkeypatch.context() as m:
        _wrapping_cheat(m, scheme)
        for value, predicate in cases:
            envelopes.append(_prove(value, predicate, 16, scheme))
    for envelope in envelopes:
        verdict = proofs.verify(envelope)
        assert not verdict.valid and verdict.reason != "ok"


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(deadline=None, max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(
    threshold=st.integers(min_value=-(2**40), max_value=2**40),
    below=st.integers(min_value=1, max_value=2**41),
    n=st.integers(min_value=1, max_value=16),
)
def test_cheating_provers_fail_for_any_value_below_the_threshold(
    scheme: str, threshold: int, below: int, n: int
) -> None:
    """Broad run on the fast backend: whatever the width and however far below."""
    with use("arkworks"), pytest.MonkeyPatch.context() as m:
        _wrapping_cheat(m, scheme)
        envelope = _prove(threshold - below, AtLeast(threshold), n, scheme)
        m.undo()
        assert not proofs.verify(envelope).valid


class _TopBitCheat(bits.BitRangeProver):
    """Bit commitments that do add up to D: the low bits are honest and the top
    "bit" carries the rest (a huge field element); the prover then pretends that bit is 0."""

    def __init__(self, b: Backend, base: Any, d: int, rho: int, n: int) -> None:
        low = d % (1 << (n - 1))
        top = (d - low) * pow(1 << (n - 1), -1, ORDER) % ORDER
        blindings = [pedersen.random_scalar() for _ in range(n - 1)]
        partial = sum(r << i for i, r in enumerate(blindings))
        blindings.append((rho - partial) * pow(1 << (n - 1), -1, ORDER) % ORDER)
        values = [(low >> i) & 1 for i in range(n - 1)] + [top]
        self.bit_points: list[Point] = [
            b.add(b.mul_fixed(base.g_fixed, v), b.mul_fixed(base.h_fixed, r))
            for v, r in zip(values, blindings, strict=True)
        ]
        # Honest OR proofs for the low bits; for the top one the prover answers as if Cᵢ
        # were rᵢ·H (a 0 bit), which it is not.
        self._ors = [
            OrProver(b, base, [v, v - 1], v, r) if i < n - 1 else OrProver(b, base, [0, -1], 0, r)
            for i, (v, r) in enumerate(zip(values, blindings, strict=True))
        ]
        self.first = [a for o in self._ors for a in o.first]


def test_bits_that_add_up_but_are_not_bits_do_not_verify(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        m.setattr(AtLeast, "holds", lambda self, v: True)
        m.setattr(proofs, "BitRangeProver", _TopBitCheat)
        envelope = _prove(99, AtLeast(100), 8, "bits-v1")
    # The forgery really passed the recombination check and fails only on the OR proof.
    b = backend
    part = envelope["proof"]["claims"][0]["ranges"][0]
    points = [b.decode(parse_bytes_b64(x)) for x in part["bits"]]
    claim = b.decode(parse_bytes_b64(envelope["claims"][0]["commitment"]))
    target = b.sub(claim, b.mul(b.generator(), 100))
    assert b.eq(b.pow2_sum(points), target)
    assert not proofs.verify(envelope).valid


def parse_bytes_b64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_edited_bit_proofs_do_not_verify(backend: Backend) -> None:
    envelope = _prove(5, AtLeast(3), 4, "bits-v1")
    part = envelope["proof"]["claims"][0]["ranges"][0]
    for key in ("challenges", "responses"):
        for i in range(len(part[key])):
            edited = copy.deepcopy(envelope)
            items = edited["proof"]["claims"][0]["ranges"][0][key]
            items[i] = scalar_text(parse_scalar(items[i], "s") + 1)
            assert not proofs.verify(edited).valid, (key, i)
    # Swapping two bit commitments keeps every point valid but breaks the recombination.
    edited = copy.deepcopy(envelope)
    items = edited["proof"]["claims"][0]["ranges"][0]["bits"]
    items[0], items[1] = items[1], items[0]
    assert not proofs.verify(edited).valid
    # Replacing the bits with those of another proof over the same commitment value.
    other = _prove(5, AtLeast(3), 4, "bits-v1")
    edited = copy.deepcopy(envelope)
    edited["proof"]["claims"][0]["ranges"][0] = other["proof"]["claims"][0]["ranges"][0]
    assert not proofs.verify(edited).valid


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_range_proof_is_bound_to_commitment_predicate_and_context(
    backend: Backend, scheme: str
) -> None:
    envelope = _prove(10, Between(5, 20), 8, scheme)
    assert proofs.verify(envelope).valid
    edits: list[Callable[[dict[str, Any]], None]] = [
        lambda e: e["claims"][0]["predicate"].update(low=4),
        lambda e: e["claims"][0]["predicate"].update(high=21),
        lambda e: e["claims"][0].update(bits=7),
        lambda e: e["context"].update(nonce="other"),
        lambda e: e.update(scheme=next(s for s in SCHEMES if s != scheme)),
        lambda e: e["claims"][0].update(commitment=b64(pedersen.commit(10, 1))),
    ]
    for edit in edits:
        edited = copy.deepcopy(envelope)
        edit(edited)
        assert not proofs.verify(edited).valid


@pytest.mark.parametrize("scheme", SCHEMES)
def test_several_claims_in_one_envelope(backend: Backend, scheme: str) -> None:
    from privacy.zk.predicates import Equals, Opening

    on = dt.date(2026, 12, 2)
    parts = [
        _claim(3_500_000, AtLeast(3_000_000), 24),
        _claim(days_since_epoch(dt.date(1990, 3, 1)), AgeAtLeast(18, on), 16),
        _claim(4, Between(4, 5), 2),
        _claim(2, Equals(2), 8),
        _claim(77, Opening(), 8),
    ]
    envelope = proofs.prove([c for c, _ in parts], [w for _, w in parts], CONTEXT, scheme=scheme)
    verdict = proofs.verify(envelope)
    assert verdict.valid and len(verdict.claims) == 5
    assert [c for c, _ in parts] == list(verdict.claims)
    # One false claim among true ones makes the whole envelope unprovable.
    bad = _claim(2_000_000, AtLeast(3_000_000), 24)
    with pytest.raises(PredicateFalse):
        proofs.prove([parts[1][0], bad[0]], [parts[1][1], bad[1]], CONTEXT, scheme=scheme)
