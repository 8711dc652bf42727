"""The auditors' API hands out what the offline verifier and RFC 9162 verifiers check."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from consent_ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from consent_ledger.note import NoteVerifier, open_checkpoint
from consent_ledger.verify import verify_ledger
from tests.api.conftest import World


def _decide(w: World, n: int = 3) -> None:
    for _ in range(n):
        w.http.post(
            "/v1/decisions",
            json={
                "client_id": w.alice,
                "purpose": "investment_advice",
                "categories": ["user.name"],
            },
            headers=w.auth(w.advisory),
        )


def test_trail_filters_and_pages(world: World) -> None:
    """Filter by client, department and outcome; page with `after`."""
    _decide(world, 5)
    h = world.auth(world.auditor)
    r = world.http.get(
        "/v1/audit/trail",
        params={"client_id": world.alice, "department": "advisory", "outcome": "allow", "limit": 2},
        headers=h,
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["items"]) == 2 and page["next_after"] is not None
    r2 = world.http.get(
        "/v1/audit/trail",
        params={
            "client_id": world.alice,
            "limit": 2,
            "department": "advisory",
            "after": page["next_after"],
        },
        headers=h,
    )
    assert all(i["index"] > page["next_after"] for i in r2.json()["items"])
    assert all(i["body"]["input"]["principal"]["department"] == "advisory" for i in page["items"])


def test_checkpoint_key_and_proofs_verify_independently(world: World) -> None:
    """The served checkpoint opens with the served key; proofs verify per RFC 9162."""
    _decide(world, 4)
    note = world.http.get("/v1/ledger/checkpoint").text
    vkey = world.http.get("/v1/ledger/public-key").text.strip()
    cp = open_checkpoint(note, [NoteVerifier.parse(vkey)])
    h = world.auth(world.auditor)
    lines = world.http.get("/v1/ledger/entries", headers=h).text.splitlines()
    leaves = [leaf_hash(base64.b64decode(json.loads(x)["leaf"])) for x in lines]
    assert len(leaves) == cp.size
    for i in (0, cp.size // 2, cp.size - 1):
        proof = world.http.get("/v1/ledger/proofs/inclusion", params={"index": i}, headers=h).json()
        verify_inclusion(
            leaves[i], i, cp.size, [bytes.fromhex(x) for x in proof["hashes"]], cp.root_hash
        )
    _decide(world, 2)
    note2 = world.http.get("/v1/ledger/checkpoint").text
    cp2 = open_checkpoint(note2, [NoteVerifier.parse(vkey)])
    proof = world.http.get(
        "/v1/ledger/proofs/consistency", params={"old_size": cp.size}, headers=h
    ).json()
    verify_consistency(
        cp.size, cp2.size, cp.root_hash, cp2.root_hash, [bytes.fromhex(x) for x in proof["hashes"]]
    )


def test_offline_verifier_accepts_the_servers_database(world: World, tmp_path: Path) -> None:
    """`custos ledger verify` logic passes on what the API wrote, against a served checkpoint."""
    _decide(world, 3)
    older = world.http.get("/v1/ledger/checkpoint").text
    _decide(world, 3)
    world.http.get("/v1/ledger/checkpoint")
    vkey = world.http.get("/v1/ledger/public-key").text.strip()
    report = verify_ledger(world.services.custos.db.url, vkey, older)
    assert report.size == world.ledger_size()


def test_export_is_json_lines(world: World) -> None:
    """The export is one JSON object per line with index, type and timestamp."""
    _decide(world, 2)
    r = world.http.get("/v1/audit/export", headers=world.auth(world.auditor))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jsonl")
    rows = [json.loads(x) for x in r.text.splitlines()]
    assert [x["index"] for x in rows] == sorted(x["index"] for x in rows)
    assert {"index", "timestamp", "type", "subject", "body"} <= set(rows[0])


def test_health_and_metrics(world: World) -> None:
    """healthz, readyz and Prometheus metrics with decisions by outcome and ledger size."""
    _decide(world, 1)
    assert world.http.get("/healthz").json() == {"status": "ok"}
    assert world.http.get("/readyz").json()["status"] == "ready"
    text = world.http.get("/metrics").text
    assert 'custos_decisions_total{outcome="allow"} 1.0' in text
    assert "custos_ledger_entries" in text and "custos_http_request_seconds" in text


def test_latest_consent_entry_is_found_by_prefix(world: World) -> None:
    """The receipt points at the newest consent_* entry of the client, not at a later decision."""
    r = world.http.post(
        "/v1/me/consent/revoke",
        json={"purposes": ["marketing"]},
        headers=world.auth(world.alice_token),
    )
    changed = r.json()["ledger_index"]
    _decide(world, 2)
    assert world.services.audit.latest_index(world.alice, "consent_") == changed
    receipt = world.http.get("/v1/me/receipt", headers=world.auth(world.alice_token)).json()
    assert receipt["ledgerIndex"] == changed
    assert world.services.audit.latest_index(world.bob, "consent_") is None
