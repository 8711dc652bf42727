"""Opening, equality and one-of proofs, on both backends: completeness and soundness."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.zk import pedersen, proofs
from privacy.zk.backend import Backend, use
from privacy.zk.envelope import scalar_text
from privacy.zk.errors import PredicateFalse
from privacy.zk.predicates import Equals, OneOf, Opening, Predicate

values = st.integers(min_value=-(2**40), max_value=2**40)
CONTEXT = {"request_id": "req-1", "nonce": "n-1", "department": "advisory"}


@pytest.fixture(params=["py_ecc", "arkworks"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with use(request.param) as b:
        yield b


def _claim(value: int, predicate: Predicate, bits: int = 32) -> tuple[proofs.Claim, proofs.Witness]:
    r = pedersen.random_scalar()
    return proofs.Claim(pedersen.commit(value, r), predicate, bits), proofs.Witness(value, r)


def _prove(value: int, predicate: Predicate) -> dict[str, Any]:
    claim, witness = _claim(value, predicate)
    return proofs.prove([claim], [witness], CONTEXT)


def test_honest_proofs_verify(backend: Backend) -> None:
    cases: list[tuple[int, Predicate]] = [
        (17, Opening()),
        (-17, Opening()),
        (3_000_000, Equals(3_000_000)),
        (4, OneOf((4, 5))),
        (5, OneOf((1, 2, 3, 4, 5))),
        (-3, OneOf((-3,))),
    ]
    for value, predicate in cases:
        verdict = proofs.verify(_prove(value, predicate))
        assert verdict.valid, (predicate, verdict.reason)
        assert verdict.reason == "ok" and verdict.context == CONTEXT
        assert verdict.claims[0].predicate == predicate


@pytest.mark.parametrize("name", ["py_ecc", "arkworks"])
@settings(deadline=None, max_examples=10, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=values,
    others=st.lists(values, min_size=0, max_size=5, unique=True),
    position=st.integers(min_value=0, max_value=5),
)
def test_one_of_verifies_wherever_the_value_is(
    name: str, value: int, others: list[int], position: int
) -> None:
    members = [v for v in others if v != value]
    members.insert(min(position, len(members)), value)
    with use(name):
        assert proofs.verify(_prove(value, OneOf(tuple(members)))).valid


def test_false_statements_cannot_be_proven(backend: Backend) -> None:
    false: list[tuple[int, Predicate]] = [(5, Equals(6)), (5, OneOf((1, 2, 3))), (5, Equals(-5))]
    for value, predicate in false:
        with pytest.raises(PredicateFalse):
            _prove(value, predicate)


def test_a_witness_must_open_the_commitment(backend: Backend) -> None:
    claim, witness = _claim(5, Equals(5))
    for wrong in [proofs.Witness(5, witness.blinding + 1), proofs.Witness(6, witness.blinding)]:
        with pytest.raises(PredicateFalse):
            proofs.prove([claim], [wrong], CONTEXT)


def test_witnesses_stay_out_of_repr() -> None:
    assert "123456" not in repr(proofs.Witness(123456, 987654))


def test_a_cheating_prover_cannot_prove_a_wrong_equality(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prover that skips the predicate check answers for C - 6·G as if it were r·H; the
    recomputed first message differs and so does the challenge."""
    claim, witness = _claim(5, Equals(5))
    forged_claim = proofs.Claim(claim.commitment, Equals(6), 32)
    monkeypatch.setattr(Equals, "holds", lambda self, v: True)
    monkeypatch.setattr(proofs, "or_values", lambda p: (witness.value,) * 1)
    envelope = proofs.prove([forged_claim], [witness], CONTEXT)
    monkeypatch.undo()
    assert envelope["claims"][0]["predicate"] == {"type": "equals", "value": 6}
    assert not proofs.verify(envelope).valid


def test_a_cheating_prover_cannot_claim_a_value_outside_the_set(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim, witness = _claim(9, Opening())
    forged = proofs.Claim(claim.commitment, OneOf((1, 2)), 32)
    # Pretend the value is the first member: the real branch is then a false statement.
    monkeypatch.setattr(OneOf, "holds", lambda self, v: True)
    monkeypatch.setattr(proofs, "or_values", lambda p: (9, 2))
    envelope = proofs.prove([forged], [witness], CONTEXT)
    monkeypatch.undo()
    assert not proofs.verify(envelope).valid


def _edit_scalar(text: str) -> str:
    from privacy.zk.envelope import parse_scalar

    return scalar_text(parse_scalar(text, "s") + 1)


def test_edited_responses_do_not_verify(backend: Backend) -> None:
    cases: list[tuple[Predicate, int]] = [(Opening(), 3), (Equals(3), 3), (OneOf((1, 3, 5)), 3)]
    for predicate, value in cases:
        envelope = _prove(value, predicate)
        part = envelope["proof"]["claims"][0]
        for key in part:
            for i in range(len(part[key]) if isinstance(part[key], list) else 1):
                edited = copy.deepcopy(envelope)
                target = edited["proof"]["claims"][0]
                if isinstance(target[key], list):
                    target[key][i] = _edit_scalar(target[key][i])
                else:
                    target[key] = _edit_scalar(target[key])
                assert not proofs.verify(edited).valid, (predicate, key, i)
        edited = copy.deepcopy(envelope)
        edited["proof"]["challenge"] = _edit_scalar(edited["proof"]["challenge"])
        assert not proofs.verify(edited).valid


def test_a_proof_is_bound_to_its_commitment_and_context(backend: Backend) -> None:
    envelope = _prove(3, Equals(3))
    other, _ = _claim(3, Equals(3))
    moved = copy.deepcopy(envelope)
    moved["claims"][0]["commitment"] = other.to_json()["commitment"]
    assert not proofs.verify(moved).valid
    for key in CONTEXT:
        changed = copy.deepcopy(envelope)
        changed["context"][key] += "x"
        assert not proofs.verify(changed).valid
    added = copy.deepcopy(envelope)
    added["context"]["consent"] = "digest"
    assert not proofs.verify(added).valid
    removed = copy.deepcopy(envelope)
    del removed["context"]["nonce"]
    assert not proofs.verify(removed).valid


def test_several_claims_share_one_challenge(backend: Backend) -> None:
    a, wa = _claim(3, Equals(3))
    b, wb = _claim(7, OneOf((6, 7)))
    c, wc = _claim(11, Opening())
    envelope = proofs.prove([a, b, c], [wa, wb, wc], CONTEXT)
    assert proofs.verify(envelope).valid
    assert set(envelope["proof"]) == {"challenge", "claims"}
    # Claims cannot be dropped or reordered: each changes the transcript.
    for claims, parts in [
        (envelope["claims"][:2], envelope["proof"]["claims"][:2]),
        (envelope["claims"][::-1], envelope["proof"]["claims"][::-1]),
    ]:
        edited = copy.deepcopy(envelope)
        edited["claims"], edited["proof"]["claims"] = claims, parts
        assert not proofs.verify(edited).valid
    # Nor can a claim be swapped for one proven in another envelope with the same context.
    alone = proofs.prove([b], [wb], CONTEXT)
    spliced = copy.deepcopy(envelope)
    spliced["proof"]["claims"][1] = alone["proof"]["claims"][0]
    assert not proofs.verify(spliced).valid


def test_proof_is_randomized(backend: Backend) -> None:
    claim, witness = _claim(3, Opening())
    one = proofs.prove([claim], [witness], CONTEXT)
    two = proofs.prove([claim], [witness], CONTEXT)
    assert one["proof"] != two["proof"]


def test_transcript_items_are_unambiguous() -> None:
    """Length prefixes keep (label, data) boundaries: shifting bytes between the label and
    the data, or between two items, changes the challenge."""
    from privacy.zk.transcript import Transcript

    def challenge(*items: tuple[str, bytes]) -> int:
        t = Transcript()
        for label, data in items:
            t.append(label, data)
        return t.challenge("e")

    seen = {
        challenge(("ab", b"c")),
        challenge(("a", b"bc")),
        challenge(("a", b"b"), ("", b"c")),
        challenge(("a", b"b"), ("c", b"")),
        challenge(("a", b"bc"), ("", b"")),
    }
    assert len(seen) == 5
    t = Transcript()
    first, second = t.challenge("x"), t.challenge("x")
    assert first != second and all(0 <= c < pedersen.ORDER for c in (first, second))
