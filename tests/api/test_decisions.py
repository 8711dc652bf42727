"""POST /v1/decisions and /v1/decisions:batch."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from consent_ledger.encoding import decode_entry
from tests.api.conftest import World

AUM = "user.financial.assets_under_management"


def _ask(w: World, key: str, **body: Any) -> Any:
    return w.http.post("/v1/decisions", json=body, headers=w.auth(key))


def test_allow_is_on_the_ledger_as_an_opa_decision_entry(world: World) -> None:
    """An allowed decision returns its id and ledger index; the entry has OPA's shape and no
    personal value."""
    r = _ask(
        world, world.advisory, client_id=world.alice, purpose="investment_advice", categories=[AUM]
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "allow" and body["categories"] == [AUM]
    (stored,) = world.services.custos.ledger.entries(body["ledger_index"], body["ledger_index"] + 1)
    entry = decode_entry(stored.leaf)
    assert entry.type == "access_allowed" and entry.subject == world.alice
    assert entry.body["decision_id"] == body["decision_id"]
    assert set(entry.body) >= {"decision_id", "policy", "input", "result", "requested_by"}
    assert entry.body["policy"]["version"] == body["policy_version"]
    assert b"2500000" not in stored.leaf and b"Alice" not in stored.leaf


def test_denials_are_recorded_too(world: World) -> None:
    """A deny (no consent) is written to the ledger just like an allow."""
    before = world.ledger_size()
    r = _ask(
        world, world.advisory, client_id=world.bob, purpose="investment_advice", categories=[AUM]
    )
    assert r.status_code == 200
    assert r.json()["outcome"] == "deny" and r.json()["reason_code"] == "no_consent"
    assert world.ledger_size() == before + 1


def test_revocation_denies_the_very_next_decision(world: World) -> None:
    """After the client revokes, the next decision is a deny, with no delay."""
    ask = {"client_id": world.alice, "purpose": "investment_advice", "categories": [AUM]}
    assert _ask(world, world.advisory, **ask).json()["outcome"] == "allow"
    r = world.http.post("/v1/me/consent/revoke", json={}, headers=world.auth(world.alice_token))
    assert r.status_code == 200, r.text
    assert _ask(world, world.advisory, **ask).json()["outcome"] == "deny"


def test_expiry_is_enforced_at_decision_time(world: World) -> None:
    """A consent that expired a second ago denies, though no job has recorded the expiry."""
    reg = world.services.custos.registry
    reg.change_level(world.alice, 3, world.clock.now + timedelta(hours=1))
    ask = {"client_id": world.alice, "purpose": "investment_advice", "categories": [AUM]}
    assert _ask(world, world.advisory, **ask).json()["outcome"] == "allow"
    world.clock.now += timedelta(hours=1, seconds=1)
    r = _ask(world, world.advisory, **ask).json()
    assert (r["outcome"], r["reason_code"]) == ("deny", "consent_expired")


def test_minimum_necessary(world: World) -> None:
    """An allow covers exactly the categories asked for, never the whole level."""
    r = _ask(
        world,
        world.advisory,
        client_id=world.alice,
        purpose="investment_advice",
        categories=["user.name"],
    ).json()
    assert r["categories"] == ["user.name"]


def test_batch_is_all_or_nothing(world: World) -> None:
    """A batch with one unknown category is refused and writes nothing."""
    good = {"client_id": world.alice, "purpose": "investment_advice", "categories": [AUM]}
    bad = {"client_id": world.alice, "purpose": "investment_advice", "categories": ["user.x"]}
    before = world.ledger_size()
    r = world.http.post(
        "/v1/decisions:batch", json={"items": [good, bad]}, headers=world.auth(world.advisory)
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "unknown_category"
    assert world.ledger_size() == before
    r = world.http.post(
        "/v1/decisions:batch", json={"items": [good, good]}, headers=world.auth(world.advisory)
    )
    assert r.status_code == 200
    assert [d["ledger_index"] for d in r.json()["decisions"]] == [before, before + 1]


def test_unknown_client_purpose_and_category_are_4xx(world: World) -> None:
    """Unknown names are clear errors naming the field, never an allow, and write nothing."""
    before = world.ledger_size()
    for body, code in (
        (
            {"client_id": "c_" + "0" * 16, "purpose": "kyc", "categories": ["user.name"]},
            "unknown_client",
        ),
        (
            {"client_id": world.alice, "purpose": "gambling", "categories": ["user.name"]},
            "unknown_purpose",
        ),
        (
            {"client_id": world.alice, "purpose": "kyc", "categories": ["user.shoe_size"]},
            "unknown_category",
        ),
    ):
        r = _ask(world, world.advisory, **body)
        assert 400 <= r.status_code < 500 and r.json()["code"] == code, r.text
    assert world.ledger_size() == before


def test_department_comes_from_the_key(world: World) -> None:
    """The research app cannot pursue advisory purposes: its key binds it to research."""
    r = _ask(
        world, world.research, client_id=world.alice, purpose="investment_advice", categories=[AUM]
    ).json()
    assert r["outcome"] != "allow"


def test_broken_policy_file_is_refused_and_the_last_good_one_keeps_running(
    world: World, tmp_path: Path
) -> None:
    """A policy edit with a mistake is refused with file and line; decisions go on under the
    previous version, and a good edit is picked up and recorded on the ledger."""
    holder = world.services.policy
    copy = tmp_path / "firm.yaml"
    copy.write_text(holder.path.read_text())
    holder.path = copy
    good_version = holder.current.version
    copy.write_text(copy.read_text().replace("departments:", "departments:\n  bogus: [", 1))
    os.utime(copy, (1, 1))
    assert holder.reload_if_changed() is False
    assert holder.last_error is not None and "firm.yaml:" in holder.last_error
    r = _ask(
        world, world.advisory, client_id=world.alice, purpose="investment_advice", categories=[AUM]
    ).json()
    assert r["policy_version"] == good_version
    copy.write_text(
        holder.path.read_text().replace("departments:\n  bogus: [", "departments:", 1)
        + "\n# a comment changes nothing in the content hash\n"
    )
    os.utime(copy, (2, 2))
    before = world.ledger_size()
    assert holder.reload_if_changed() is True
    assert holder.current.version == good_version  # same content, same version
    assert world.ledger_size() == before  # an already-recorded version is not re-recorded


def test_patch_with_only_an_end_date_renews(world: World) -> None:
    """PATCH /v1/me/consent with expires_at alone renews; no_expiry removes the end date."""
    h = world.auth(world.alice_token)
    ends = (world.clock.now + timedelta(days=90)).isoformat()
    r = world.http.patch("/v1/me/consent", json={"expires_at": ends}, headers=h)
    assert r.status_code == 200, r.text
    assert world.http.get("/v1/me/consent", headers=h).json()["expires_at"] is not None
    r = world.http.patch("/v1/me/consent", json={"no_expiry": True}, headers=h)
    assert r.status_code == 200
    assert world.http.get("/v1/me/consent", headers=h).json()["expires_at"] is None
    r = world.http.patch("/v1/me/consent", json={"no_expiry": True, "expires_at": ends}, headers=h)
    assert r.status_code == 400


def test_decision_ids_are_time_ordered_and_unguessable() -> None:
    from policies.service import _decision_id

    ids = [_decision_id() for _ in range(1000)]
    assert all(len(i) == 32 and all(c in "0123456789abcdef" for c in i) for i in ids)
    assert len(set(ids)) == len(ids)
    # The first 12 digits are milliseconds, so ids of later decisions sort after earlier ones.
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)
    assert len({i[12:] for i in ids}) == len(ids)
