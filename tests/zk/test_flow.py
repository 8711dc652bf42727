"""The proof flow end to end on a real installation: a proof rule asks, the client's proof
is produced, the audience department verifies it once, and a decision naming it passes.
Every way around it fails: replays, other departments, stale, foreign or used proof ids,
changed consent, expired, rotated-out, unknown-key or superseded attestations, erasure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_ledger.entries import AccessDecided, parse_body
from consent_ledger.verify import verify_ledger
from policies.proof_requests import DEFAULT_REQUEST_TTL, consent_digest
from privacy.zk import pedersen, proofs
from privacy.zk.attestation import sign_attestation
from privacy.zk.errors import PredicateFalse
from privacy.zk.flow_errors import AttestationMissing, ConsentNotCovering
from privacy.zk.predicates import predicate_from_json
from privacy.zk.service import _context
from tests.zk.flow_world import AUM, POOR_AUM, RICH_AUM, Flow, flow

__all__ = ["flow"]


def _values_absent(f: Flow, start: int) -> None:
    """No entry from ``start`` on holds the attested values (the ledger holds facts only)."""
    text = repr(f.entries(start))
    assert str(RICH_AUM) not in text and str(POOR_AUM) not in text


def test_the_whole_flow_allows_with_the_fact_never_the_value(flow: Flow) -> None:
    """Deny with a proof request; prove; verify; the decision naming the proof allows with
    requires_proof and the fact; every step is on the ledger with no value."""
    start = flow.size()
    denied = flow.decide(flow.rich)
    assert (denied["outcome"], denied["reason_code"]) == ("deny", "proof_required")
    request = denied["proof_request"]
    assert request["client_id"] == flow.rich and request["audience"] == "advisory"
    assert request["attribute"] == "assets_under_management" and request["category"] == AUM
    assert request["predicate"] == {"type": "at_least", "threshold": 3_000_000}
    assert request["purpose"] == "investment_advice" and len(request["nonce"]) >= 32
    verdict = flow.verify(flow.prove(request))
    assert verdict["valid"] and verdict["reason"] == "verified"
    allowed = flow.decide(flow.rich, proof_id=verdict["proof_id"])
    assert allowed["outcome"] == "allow" and "requires_proof" in allowed["obligations"]
    assert allowed["proof"] == {
        "proof_id": verdict["proof_id"],
        "rule_id": "qualified-investor-proof",
        "attribute": "assets_under_management",
        "predicate": {"type": "at_least", "threshold": 3_000_000},
        "holds": True,
    }
    assert str(RICH_AUM) not in repr(allowed)
    kinds = [(t, s) for _, t, s, _ in flow.entries(start)]
    assert kinds == [
        ("access_denied", flow.rich),
        ("proof_verified", flow.rich),
        ("access_allowed", flow.rich),
    ]
    index, _, _, body = flow.entries(start)[1]
    assert index == verdict["ledger_index"]
    assert body["predicate"] == request["predicate"] and body["department"] == "advisory"
    assert body["attestation_id"].startswith("at_") and body["reason"] == "verified"
    decided = flow.entries(start)[2][3]
    assert decided["input"]["context"]["proof_id"] == verdict["proof_id"]
    _values_absent(flow, 0)


def test_a_replayed_proof_is_rejected_and_recorded(flow: Flow) -> None:
    envelope = flow.prove(flow.proof_request(flow.rich))
    assert flow.verify(envelope)["valid"]
    again = flow.verify(envelope)
    assert (again["valid"], again["reason"], again["proof_id"]) == (False, "replayed", None)
    assert flow.entries(again["ledger_index"])[0][1] == "proof_rejected"


def test_only_the_audience_department_may_present_the_proof(flow: Flow) -> None:
    envelope = flow.prove(flow.proof_request(flow.rich))
    foreign = flow.verify(envelope, key=flow.risk)
    assert (foreign["valid"], foreign["reason"]) == (False, "wrong_audience")
    assert flow.verify(envelope)["valid"]  # the rightful department still can, once


@pytest.mark.parametrize("why", ["used", "stale", "foreign_client", "foreign_purpose"])
def test_a_stale_foreign_or_used_proof_id_denies(flow: Flow, why: str) -> None:
    """A proof lets one decision through: of its client, department and purpose, before its
    request expires. Any other decision naming it is the proof_required deny again."""
    proof_id = flow.verified_proof_id(flow.rich)
    client, purpose, expect = flow.rich, "investment_advice", "proof_used"
    if why == "used":
        assert flow.decide(flow.rich, proof_id=proof_id)["outcome"] == "allow"
    elif why == "stale":
        flow.clock.now += DEFAULT_REQUEST_TTL + timedelta(seconds=1)
        expect = "proof_expired"
    elif why == "foreign_client":
        client, expect = flow.poor, "proof_unknown"
    else:
        purpose, expect = "suitability", "proof_unknown"
    answer = flow.decide(client, proof_id=proof_id, purpose=purpose)
    assert (answer["outcome"], answer["reason_code"]) == ("deny", "proof_required")
    assert answer["reason"].endswith(f"not accepted: {expect}")
    assert answer["proof_request"] is not None and answer["proof"] is None


def test_a_predicate_that_does_not_hold_cannot_be_proved(flow: Flow) -> None:
    with pytest.raises(PredicateFalse):
        flow.prove(flow.proof_request(flow.poor))


def test_a_forged_proof_for_a_value_below_the_threshold_does_not_verify(flow: Flow) -> None:
    """Prove a true statement (opening) and relabel it as the threshold claim: rejected."""
    request = flow.proof_request(flow.poor)
    envelope = _envelope(flow, flow.poor, request, predicate={"type": "opening"})
    envelope["claims"][0]["predicate"] = request["predicate"]
    verdict = flow.verify(envelope)
    assert not verdict["valid"] and verdict["reason"].startswith("invalid_proof")


def _envelope(
    f: Flow,
    owner: str,
    request: dict[str, Any],
    *,
    predicate: dict[str, Any] | None = None,
    attestation: dict[str, Any] | None = None,
    commitment: bytes | None = None,
    value: int | None = None,
    blinding: int | None = None,
    context: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An honest prover's envelope built by hand, with any part swapped for a test."""
    with f.services.custos.db.read() as tx:
        stored = f.services.zk.requests.get(tx, request["request_id"])
        att = f.services.zk.desk.current(tx, owner, "assets_under_management")
        opening = f.services.zk.desk.opening(tx, owner, "assets_under_management")
        consent = f.services.custos.registry.consent_of_client(tx, owner)
    assert stored is not None
    ctx = _context(stored, consent_digest(consent), [attestation or att.to_json()])
    ctx |= context or {}
    claim = proofs.Claim(
        commitment or att.commitment, predicate_from_json(predicate or request["predicate"]), 40
    )
    witness = proofs.Witness(
        opening.value if value is None else value,
        opening.blinding if blinding is None else blinding,
    )
    return proofs.prove([claim], [witness], ctx)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"nonce": "another-nonce-of-the-right-shape-xyz"}, "context_mismatch"),
        ({"department": "risk"}, "context_mismatch"),
        ({"purpose": "suitability"}, "context_mismatch"),
        ({"consent": "0" * 64}, "consent_changed"),
        ({"protocol": "custos-zk-flow/0"}, "wrong_protocol"),
    ],
)
def test_a_proof_bound_to_another_context_is_rejected(
    flow: Flow, change: dict[str, str], reason: str
) -> None:
    request = flow.proof_request(flow.rich)
    verdict = flow.verify(_envelope(flow, flow.rich, request, context=change))
    assert (verdict["valid"], verdict["reason"]) == (False, reason)
    assert flow.verify(flow.prove(request))["valid"]  # the honest one still passes


def test_a_proof_for_another_clients_request_is_rejected(flow: Flow) -> None:
    """The rich client's valid proof, sent for the poor client's request id."""
    theirs = flow.proof_request(flow.poor)
    verdict = flow.verify(_envelope(flow, flow.rich, theirs, context={"client": flow.rich}))
    assert (verdict["valid"], verdict["reason"]) == (False, "context_mismatch")


def test_a_proof_with_another_predicate_is_rejected(flow: Flow) -> None:
    request = flow.proof_request(flow.rich)
    weaker = {"type": "at_least", "threshold": 1}
    verdict = flow.verify(_envelope(flow, flow.rich, request, predicate=weaker))
    assert (verdict["valid"], verdict["reason"]) == (False, "wrong_statement")


def test_a_commitment_outside_the_attestation_is_rejected(flow: Flow) -> None:
    """The prover commits to a value of their own choosing: no attestation vouches for it."""
    request = flow.proof_request(flow.poor)
    r = pedersen.random_scalar()
    fake = pedersen.commit(RICH_AUM, r)
    envelope = _envelope(flow, flow.poor, request, commitment=fake, value=RICH_AUM, blinding=r)
    verdict = flow.verify(envelope)
    assert (verdict["valid"], verdict["reason"]) == (False, "attestation_mismatch")


def test_an_attestation_signed_by_an_unknown_key_is_rejected(flow: Flow) -> None:
    """A self-made commitment with a self-signed attestation of the right shape."""
    request = flow.proof_request(flow.poor)
    r = pedersen.random_scalar()
    fake = pedersen.commit(RICH_AUM, r)
    now = flow.clock()
    forged = sign_attestation(
        Ed25519PrivateKey.generate(),
        client=flow.poor,
        attribute="assets_under_management",
        category=AUM,
        bits=40,
        commitment=fake,
        issued=now,
        expires=now + timedelta(days=30),
    )
    envelope = _envelope(
        flow,
        flow.poor,
        request,
        attestation=forged.to_json(),
        commitment=fake,
        value=RICH_AUM,
        blinding=r,
    )
    verdict = flow.verify(envelope)
    assert (verdict["valid"], verdict["reason"]) == (False, "attestation_unknown_key")


def test_an_attestation_of_a_rotated_out_key_is_rejected(flow: Flow) -> None:
    """A proof made before the desk key rotated carries the old key's attestation: refused.
    The re-attestation under the new key proves afresh."""
    request = flow.proof_request(flow.rich)
    envelope = flow.prove(request)
    flow.services.zk.desk.rotate()
    verdict = flow.verify(envelope)
    assert (verdict["valid"], verdict["reason"]) == (False, "attestation_key_retired")
    assert flow.verify(flow.prove(flow.proof_request(flow.rich)))["valid"]


def test_an_expired_attestation_is_rejected(flow: Flow) -> None:
    desk = flow.services.zk.desk
    desk.validity = timedelta(minutes=5)
    desk.attest(flow.rich)
    request = flow.proof_request(flow.rich)
    envelope = flow.prove(request)
    flow.clock.now += timedelta(minutes=6)
    verdict = flow.verify(envelope)
    assert (verdict["valid"], verdict["reason"]) == (False, "attestation_expired")


def test_a_new_value_re_attests_and_voids_proofs_over_the_old_one(flow: Flow) -> None:
    """A KYC collection of a new AUM through the API re-attests at once (attestation_renewed,
    superseding the old one); a proof over the old commitment is then refused."""
    request = flow.proof_request(flow.rich)
    old = flow.prove(request)
    start = flow.size()
    r = flow.http.post(
        f"/v1/clients/{flow.rich}/data",
        json={"purpose": "kyc", "values": {AUM: 5_000_000}},
        headers=flow.auth(flow.compliance),
    )
    assert r.status_code == 201, r.text
    renewed = [(t, b) for _, t, _, b in flow.entries(start) if t.startswith("attestation")]
    assert [t for t, _ in renewed] == ["attestation_renewed"]
    assert "5000000" not in repr(renewed) and renewed[0][1]["supersedes"].startswith("at_")
    verdict = flow.verify(old)
    assert (verdict["valid"], verdict["reason"]) == (False, "attestation_superseded")
    assert flow.verify(flow.prove(flow.proof_request(flow.rich)))["valid"]


def test_a_consent_changed_after_proving_voids_the_proof(flow: Flow) -> None:
    envelope = flow.prove(flow.proof_request(flow.rich))
    flow.services.custos.registry.set_purposes(flow.rich, ["kyc", "investment_advice"])
    verdict = flow.verify(envelope)
    assert (verdict["valid"], verdict["reason"]) == (False, "consent_changed")


def test_no_proof_is_produced_beyond_the_consent(flow: Flow) -> None:
    """The consent must cover the purpose and the attribute's level (AUM is level 2)."""
    request = flow.proof_request(flow.rich)
    flow.services.custos.registry.change_level(flow.rich, 1)
    with pytest.raises(ConsentNotCovering, match="level"):
        flow.prove(request)
    flow.services.custos.registry.change_level(flow.rich, 2)
    flow.services.custos.registry.set_purposes(flow.rich, ["kyc", "suitability"])
    with pytest.raises(ConsentNotCovering, match="investment_advice"):
        flow.prove(request)


def test_after_erasure_no_proof_can_be_produced(flow: Flow) -> None:
    """Erasure destroys the openings with the vault: neither the prover nor anyone holding
    the database can prove anything about the client again."""
    request = flow.proof_request(flow.rich)
    envelope = flow.prove(request)
    flow.services.custos.registry.erase(flow.rich)
    with pytest.raises(ConsentNotCovering, match="erased"):
        flow.prove(request)
    with flow.services.custos.db.read() as tx, pytest.raises(AttestationMissing):
        flow.services.zk.desk.opening(tx, flow.rich, "assets_under_management")
    verdict = flow.verify(envelope)
    assert (verdict["valid"], verdict["reason"]) == (False, "client_erased")


def test_a_declined_request_cannot_be_answered(flow: Flow) -> None:
    request = flow.proof_request(flow.rich)
    envelope = flow.prove(request)
    flow.services.zk.decline(flow.rich, request["request_id"])
    verdict = flow.verify(envelope)
    assert (verdict["valid"], verdict["reason"]) == (False, "request_declined")


def test_an_expired_request_cannot_be_proved_or_verified(flow: Flow) -> None:
    request = flow.proof_request(flow.rich)
    envelope = flow.prove(request)
    flow.clock.now += DEFAULT_REQUEST_TTL
    verdict = flow.verify(envelope)
    assert (verdict["valid"], verdict["reason"]) == (False, "request_expired")


def test_a_batch_cannot_spend_one_proof_twice(flow: Flow) -> None:
    proof_id = flow.verified_proof_id(flow.rich)
    item = {
        "client_id": flow.rich,
        "purpose": "investment_advice",
        "categories": [AUM],
        "stage": "qualified_investor_check",
        "proof_id": proof_id,
    }
    r = flow.http.post(
        "/v1/decisions:batch", json={"items": [item, item]}, headers=flow.auth(flow.advisory)
    )
    first, second = r.json()["decisions"]
    assert first["outcome"] == "allow" and second["reason_code"] == "proof_required"


def test_entries_written_before_proofs_were_verified_still_read_back() -> None:
    """An access entry of the old shape (the app's own proof_presented) parses to the bytes
    it was written as, so ledgers from before this change still verify."""
    old = {
        "decision_id": "0" * 32,
        "policy": {"id": "custos/firm", "version": "f" * 64},
        "input": {
            "principal": {"app_id": "a", "department": "advisory"},
            "action": "suitability",
            "resource": {"client_id": "c_0000000000000001", "categories": [AUM]},
            "context": {"access": "row", "stage": None, "proof_presented": True},
        },
        "result": {"outcome": "allow", "reason_code": "allowed", "rule_id": "r", "obligations": []},
        "requested_by": "a",
        "trace_id": None,
    }
    parsed = parse_body(7, "access_allowed", old)
    assert isinstance(parsed, AccessDecided)
    assert parsed.to_json() == old and parsed.proof_id is None


def test_the_ledger_with_the_flows_entries_verifies(flow: Flow) -> None:
    """Attestations, verdicts and decisions naming proofs are all well-formed entries: the
    offline ledger verifier recomputes the chain and the tree over them."""
    flow.decide(flow.rich, proof_id=flow.verified_proof_id(flow.rich))
    flow.verify({"format": "junk"})
    flow.services.zk.desk.rotate()
    flow.services.custos.ledger.checkpoint()
    url = flow.services.settings.ledger.database_url
    key = flow.services.custos.ledger.signer.verifier_key()
    report = verify_ledger(url, key)
    assert report.size == flow.size()
    for index, kind, _, body in flow.entries():
        parse_body(index, kind, body)
