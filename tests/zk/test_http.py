"""The flow's HTTP surface: who may call, what bad input gets, what the answers hold."""

from __future__ import annotations

import pytest

from custos_client import CustosClient
from privacy.zk import pedersen
from privacy.zk.attestation import b64url
from tests.support.server import serve_in_thread
from tests.zk.flow_world import AUM, STAGE, Flow, flow

__all__ = ["flow"]


@pytest.mark.parametrize("path", ["/v1/decisions", "/v1/decisions:batch"])
def test_a_request_that_still_claims_a_proof_is_refused_naming_the_field(
    flow: Flow, path: str
) -> None:
    item = {
        "client_id": flow.rich,
        "purpose": "investment_advice",
        "categories": [AUM],
        "stage": STAGE,
        "proof_presented": True,
    }
    body = item if path == "/v1/decisions" else {"items": [item]}
    before = flow.size()
    r = flow.http.post(path, json=body, headers=flow.auth(flow.advisory))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "validation_failed" and "proof_presented" in problem["field"]
    assert flow.size() == before


def test_a_malformed_proof_id_is_refused(flow: Flow) -> None:
    r = flow.http.post(
        "/v1/decisions",
        json={
            "client_id": flow.rich,
            "purpose": "investment_advice",
            "categories": [AUM],
            "proof_id": "yes",
        },
        headers=flow.auth(flow.advisory),
    )
    assert r.status_code == 422 and r.json()["field"] == "proof_id"


def test_every_decision_answer_carries_the_proof_members(flow: Flow) -> None:
    r = flow.http.post(
        "/v1/decisions",
        json={"client_id": flow.rich, "purpose": "investment_advice", "categories": [AUM]},
        headers=flow.auth(flow.advisory),
    )
    assert r.json()["outcome"] == "allow"
    assert r.json()["proof_request"] is None and r.json()["proof"] is None


def test_verification_needs_an_app_key(flow: Flow) -> None:
    body = {"proof": {"format": "custos-zk-proof"}}
    assert flow.http.post("/v1/proofs:verify", json=body).status_code == 401
    auditor = flow.services.accounts.create_auditor("audit", flow.clock()).key
    r = flow.http.post("/v1/proofs:verify", json=body, headers=flow.auth(auditor))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    "body",
    [{}, {"proof": []}, {"proof": {}, "extra": 1}, {"envelope": {}}],
)
def test_a_verification_body_of_the_wrong_shape_is_refused(flow: Flow, body: object) -> None:
    before = flow.size()
    r = flow.http.post("/v1/proofs:verify", json=body, headers=flow.auth(flow.advisory))
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert flow.size() == before


def test_a_garbage_envelope_is_an_invalid_verdict_on_the_ledger(flow: Flow) -> None:
    verdict = flow.verify({"format": "custos-zk-proof", "version": 1, "context": "x"})
    assert verdict["valid"] is False and verdict["reason"].startswith("invalid_proof")
    assert verdict["proof_id"] is None
    ((_, kind, subject, body),) = flow.entries(verdict["ledger_index"])
    assert (kind, subject, body["request_id"], body["predicate"], body["reason"]) == (
        "proof_rejected",
        None,
        None,
        None,
        "invalid_proof",
    )


def test_the_parameters_are_public_and_name_the_current_desk_key(flow: Flow) -> None:
    r = flow.http.get("/v1/zk/parameters")
    assert r.status_code == 200
    doc = r.json()
    gens = pedersen.generators()
    assert doc["generators"]["g"] == b64url(gens.g) and doc["generators"]["h"] == b64url(gens.h)
    assert doc["generators"]["dst"] == gens.dst.decode()
    (key,) = doc["desk_keys"]
    assert key["valid_until"] is None and len(key["key_id"]) == 16
    assert {
        "name": "assets_under_management",
        "category": AUM,
        "encoding": "integer",
        "bits": 40,
        "level": 2,
    } in doc["attributes"]
    assert "attestations" in doc["context_keys"] and doc["protocol"] == "custos-zk-flow/1"
    flow.services.zk.desk.rotate()
    keys = flow.http.get("/v1/zk/parameters").json()["desk_keys"]
    assert [k["valid_until"] is None for k in keys] == [False, True]


def test_the_audience_fetches_the_approved_proof_and_nobody_else_sees_it(flow: Flow) -> None:
    request = flow.proof_request(flow.rich)
    path = f"/v1/proof-requests/{request['request_id']}"
    pending = flow.http.get(path, headers=flow.auth(flow.advisory)).json()
    assert (pending["status"], pending["envelope"]) == ("pending", None)
    assert pending["proof_request"] == request
    flow.services.zk.approve(flow.rich, request["request_id"])
    approved = flow.http.get(path, headers=flow.auth(flow.advisory)).json()
    assert approved["status"] == "approved"
    assert flow.verify(approved["envelope"])["valid"]
    assert flow.http.get(path, headers=flow.auth(flow.advisory)).json()["status"] == "verified"
    other = flow.http.get(path, headers=flow.auth(flow.risk))
    assert other.status_code == 404 and other.json()["code"] == "unknown_proof_request"
    bad = flow.http.get("/v1/proof-requests/../x", headers=flow.auth(flow.advisory))
    assert bad.status_code in (404, 422)


@pytest.mark.parametrize("path", ["/v1/proofs:verify", "/v1/decisions"])
def test_a_deeply_nested_body_is_malformed_json_not_a_crash(flow: Flow, path: str) -> None:
    """py_ecc raises the recursion limit process-wide on import; at that limit 100,000
    nested brackets overflowed the C stack and killed the server. Now: a 400."""
    body = b'{"proof": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = flow.http.post(
        path,
        content=body,
        headers={**flow.auth(flow.advisory), "content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["code"] == "malformed_json"


def test_the_typed_client_runs_the_flow(flow: Flow) -> None:
    """custos_client over a real server: decide, fetch the approved proof, verify, decide."""
    with serve_in_thread(flow.http.app) as url, CustosClient(url, flow.advisory) as custos:
        denied = custos.decide(flow.rich, "investment_advice", [AUM], stage=STAGE)
        assert denied.reason_code == "proof_required" and denied.proof_request is not None
        request_id = denied.proof_request["request_id"]
        assert custos.proof_request(request_id).status == "pending"
        flow.services.zk.approve(flow.rich, request_id)
        pending = custos.proof_request(request_id)
        assert pending.status == "approved" and pending.envelope is not None
        verdict = custos.verify_proof(pending.envelope)
        assert verdict.valid and verdict.proof_id is not None
        assert not custos.verify_proof(pending.envelope).valid
        allowed = custos.decide(
            flow.rich, "investment_advice", [AUM], stage=STAGE, proof_id=verdict.proof_id
        )
        assert allowed.allowed and allowed.proof is not None and allowed.proof["holds"]
