"""Every obligation of an allow is enforced where the decision is redeemed, and a redemption
is decided again on the consent of that moment (withdrawal, downgrade, expiry, erasure)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from consent_ledger.encoding import decode_entry
from tests.api.conftest import World

AUM = "user.financial.assets_under_management"
ID = "user.government_id"


def _decide(w: World, key: str, purpose: str, categories: list[str], **extra: Any) -> str:
    r = w.http.post(
        "/v1/decisions",
        json={"client_id": w.alice, "purpose": purpose, "categories": categories, **extra},
        headers=w.auth(key),
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "allow", r.json()
    return str(r.json()["decision_id"])


def _read(w: World, key: str, decision_id: str) -> httpx.Response:
    r: httpx.Response = w.http.get(
        f"/v1/clients/{w.alice}/data", params={"decision_id": decision_id}, headers=w.auth(key)
    )
    return r


def _use(w: World, key: str, decision_id: str, categories: list[str]) -> httpx.Response:
    r: httpx.Response = w.http.post(
        "/v1/events/used",
        headers=w.auth(key),
        json={"decision_id": decision_id, "client_id": w.alice, "categories": categories},
    )
    return r


def _last_entry(w: World) -> tuple[str, dict[str, Any]]:
    (stored,) = w.services.custos.ledger.entries(w.ledger_size() - 1, w.ledger_size())
    e = decode_entry(stored.leaf)
    return e.type, dict(e.body)


def _consent_for_research_and_training(w: World) -> None:
    registry = w.services.custos.registry
    registry.set_purposes(
        w.alice, ["kyc", "suitability", "investment_advice", "research_analytics", "model_training"]
    )


def test_the_research_probe_is_refused_naming_aggregate_only(world: World) -> None:
    """A research allow (aggregate_only) never reads a row: 403 naming the obligation, and
    the attempt is on the ledger."""
    _consent_for_research_and_training(world)
    r = world.http.post(
        "/v1/decisions",
        json={
            "client_id": world.alice,
            "purpose": "research_analytics",
            "categories": [AUM],
            "access": "aggregate",
        },
        headers=world.auth(world.research),
    )
    assert r.json()["outcome"] == "allow" and "aggregate_only" in r.json()["obligations"]
    before = world.ledger_size()
    read = _read(world, world.research, r.json()["decision_id"])
    assert read.status_code == 403, read.text
    problem = read.json()
    assert problem["code"] == "obligation_forbids" and problem["obligation"] == "aggregate_only"
    assert "2500000" not in read.text and "2,500,000" not in read.text
    assert world.ledger_size() == before + 1
    kind, body = _last_entry(world)
    assert kind == "redemption_refused"
    assert body["reason"] == "aggregate_only" and body["channel"] == "data_api"
    used = _use(world, world.research, r.json()["decision_id"], [AUM])
    assert used.status_code == 403 and used.json()["obligation"] == "aggregate_only"


def test_federated_only_is_never_read_through_the_data_api(world: World) -> None:
    """A model-training allow is for the department's federated loader, not for a read."""
    _consent_for_research_and_training(world)
    decision = _decide(world, world.research, "model_training", [AUM])
    read = _read(world, world.research, decision)
    assert read.status_code == 403 and read.json()["obligation"] == "federated_only"


def test_requires_proof_is_never_redeemed_for_the_value(world: World) -> None:
    """The allow a verified proof gives is for the fact, so the raw AUM never comes back."""
    world.services.custos.registry.collect(world.alice, {AUM: 4_000_000}, by="compliance")
    world.services.zk.desk.attest(world.alice)
    ask = {"client_id": world.alice, "purpose": "suitability", "categories": [AUM]}
    ask["stage"] = "qualified_investor_check"
    denied = world.http.post("/v1/decisions", json=ask, headers=world.auth(world.advisory))
    request = denied.json()["proof_request"]
    envelope = world.services.zk.prove(request["request_id"])
    verdict = world.http.post(
        "/v1/proofs:verify", json={"proof": envelope}, headers=world.auth(world.advisory)
    ).json()
    assert verdict["valid"], verdict
    decision = _decide(
        world,
        world.advisory,
        "suitability",
        [AUM],
        stage="qualified_investor_check",
        proof_id=verdict["proof_id"],
    )
    read = _read(world, world.advisory, decision)
    assert read.status_code == 403 and read.json()["obligation"] == "requires_proof"
    assert "4000000" not in read.text


def test_an_aggregate_decision_is_never_a_row(world: World) -> None:
    """access=aggregate outside research: the allow still cannot be read as a row."""
    decision = _decide(world, world.advisory, "investment_advice", [AUM], access="aggregate")
    read = _read(world, world.advisory, decision)
    assert read.status_code == 403 and read.json()["obligation"] == "access:aggregate"


def test_mask_masks_and_retention_travels_with_the_values(world: World) -> None:
    """Suitability reads the ID masked; every read says how long the values may be kept."""
    decision = _decide(world, world.advisory, "suitability", [ID])
    read = _read(world, world.advisory, decision)
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["values"] == {ID: "•" * 14 + "4512"}
    assert body["instructions"]["masked"] is True
    kyc = _decide(world, world.advisory, "suitability", ["user.name"])
    plain = _read(world, world.advisory, kyc).json()
    assert plain["values"] == {"user.name": "Alice Example"}
    assert plain["instructions"] == {"masked": False, "retain_days": None, "delete_by": None}


def test_retain_days_becomes_a_delete_by_date(world: World) -> None:
    """KYC keeps five years: the read carries retain_days 1825 and the date it ends."""
    compliance = world.services.accounts.create_app("compliance", "kyc desk", world.clock()).key
    decision = _decide(world, compliance, "kyc", ["user.name"])
    body = _read(world, compliance, decision).json()
    assert body["instructions"]["retain_days"] == 1825
    assert body["instructions"]["delete_by"].startswith(
        (world.clock() + timedelta(days=1825)).date().isoformat()
    )
    kind, entry = _last_entry(world)
    assert kind == "data_accessed" and "retain_days:1825" in entry["obligations"]


CHANGES = {
    "revoke_all": lambda w: w.services.custos.registry.revoke(w.alice),
    "revoke_purpose": lambda w: w.services.custos.registry.revoke(w.alice, ["investment_advice"]),
    "downgrade": lambda w: w.services.custos.registry.change_level(w.alice, 1),
    "erasure": lambda w: w.services.custos.registry.erase(w.alice),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_withdrawal_before_the_read_refuses_it(world: World, change: str) -> None:
    """An allow made before the client withdrew (all, the purpose, a level, or erased
    everything) neither reads nor records a use afterwards, and each refusal is recorded."""
    decision = _decide(world, world.advisory, "investment_advice", [AUM])
    CHANGES[change](world)
    before = world.ledger_size()
    read = _read(world, world.advisory, decision)
    assert read.status_code == 403, read.text
    assert read.json()["code"] == "consent_withdrawn"
    assert "2500000" not in read.text
    used = _use(world, world.advisory, decision, [AUM])
    assert used.status_code == 403 and used.json()["code"] == "consent_withdrawn"
    assert world.ledger_size() == before + 2
    kind, body = _last_entry(world)
    assert kind == "redemption_refused" and body["channel"] == "use_report"


def test_an_expired_consent_refuses_the_read(world: World) -> None:
    """A consent that ends between the decision and the read no longer covers it."""
    registry = world.services.custos.registry
    registry.renew(world.alice, world.clock() + timedelta(minutes=1))
    decision = _decide(world, world.advisory, "investment_advice", [AUM])
    world.clock.now += timedelta(minutes=2)
    read = _read(world, world.advisory, decision)
    assert read.status_code == 403 and read.json()["code"] == "consent_withdrawn"
    assert _last_entry(world)[1]["reason"] == "consent_expired"


def test_an_upgrade_keeps_an_allow_usable(world: World) -> None:
    """Only a narrowing refuses: after an upgrade the earlier allow still reads."""
    decision = _decide(world, world.advisory, "investment_advice", [AUM])
    world.services.custos.registry.change_level(world.alice, 3)
    assert _read(world, world.advisory, decision).status_code == 200


def test_another_apps_decision_reads_like_a_missing_one(world: World) -> None:
    """The data API never tells one app about another's decisions."""
    decision = _decide(world, world.advisory, "investment_advice", [AUM])
    read = _read(world, world.marketing_app, decision)
    assert read.status_code == 404 and read.json()["code"] == "unknown_decision"


_DEPARTMENTS = ("advisory", "risk", "research", "compliance")


@pytest.fixture
def probes(world: World) -> dict[str, str]:
    """An app key per department, with Alice consenting to everything at level 4."""
    catalogue = world.services.custos.catalogue
    registry = world.services.custos.registry
    registry.change_level(world.alice, 4)
    registry.set_purposes(world.alice, list(catalogue.purpose_map))
    return {
        d: world.services.accounts.create_app(d, f"{d} probe", world.clock()).key
        for d in _DEPARTMENTS
    }


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_aggregate_or_federated_allow_ever_yields_a_row(
    world: World, probes: dict[str, str], data: Any
) -> None:
    """Over departments, purposes, categories and access: whenever an allow carries
    aggregate_only or federated_only (or was asked for aggregates), the data API returns
    no value; every other allow reads exactly its categories."""
    catalogue = world.services.custos.catalogue
    cells = world.services.policy.current.cells
    keys = [c.key for c in catalogue.categories]
    # Mostly a (department, purpose) that a permit covers and categories inside it, so most
    # draws are allows and the property is exercised; sometimes anything at all.
    scope = {
        (d, p): sorted(k for k, cell in by_category.items() if cell.in_scope)
        for d in _DEPARTMENTS
        for p, by_category in cells[d].items()
    }
    permitted = sorted(pair for pair, inside in scope.items() if inside)
    anything = data.draw(st.integers(0, 3)) == 0
    department, purpose = data.draw(st.sampled_from(sorted(scope) if anything else permitted))
    pool = keys if anything else scope[(department, purpose)]
    categories = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
    access = data.draw(st.sampled_from(["row", "aggregate"]))
    key = probes[department]
    r = world.http.post(
        "/v1/decisions",
        json={
            "client_id": world.alice,
            "purpose": purpose,
            "categories": categories,
            "access": access,
        },
        headers=world.auth(key),
    )
    assert r.status_code == 200, r.text
    decision = r.json()
    if decision["outcome"] != "allow":
        return
    read = _read(world, key, decision["decision_id"])
    restricted = access == "aggregate" or {"aggregate_only", "federated_only"} & set(
        decision["obligations"]
    )
    event("restricted allow" if restricted else "row allow")
    if restricted:
        assert read.status_code == 403, read.text
        assert read.json()["code"] == "obligation_forbids"
        assert "values" not in read.json()
    else:
        assert read.status_code == 200, read.text
        assert set(read.json()["values"]) <= set(categories)
