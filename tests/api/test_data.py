"""Reading, collecting and using client data only under an allow decision."""

from __future__ import annotations

from tests.api.conftest import World

AUM = "user.financial.assets_under_management"


def _decide(w: World, key: str, purpose: str, categories: list[str]) -> dict[str, object]:
    r = w.http.post(
        "/v1/decisions",
        json={"client_id": w.alice, "purpose": purpose, "categories": categories},
        headers=w.auth(key),
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_read_returns_exactly_the_allowed_categories(world: World) -> None:
    """The values of the decided categories come back; nothing else of the client does."""
    d = _decide(world, world.advisory, "investment_advice", [AUM])
    r = world.http.get(
        f"/v1/clients/{world.alice}/data",
        params={"decision_id": d["decision_id"]},
        headers=world.auth(world.advisory),
    )
    assert r.status_code == 200, r.text
    assert r.json()["values"] == {AUM: 2_500_000}


def test_a_deny_reads_nothing(world: World) -> None:
    """A deny decision cannot be used to read."""
    d = _decide(world, world.advisory, "investment_advice", ["user.financial.tax_records"])
    assert d["outcome"] != "allow"
    r = world.http.get(
        f"/v1/clients/{world.alice}/data",
        params={"decision_id": d["decision_id"]},
        headers=world.auth(world.advisory),
    )
    assert r.status_code == 403 and r.json()["code"] == "decision_not_usable"


def test_a_decision_for_one_client_does_not_open_another(world: World) -> None:
    """Swapping the client id in the URL is refused."""
    d = _decide(world, world.advisory, "investment_advice", [AUM])
    r = world.http.get(
        f"/v1/clients/{world.bob}/data",
        params={"decision_id": d["decision_id"]},
        headers=world.auth(world.advisory),
    )
    assert r.status_code == 403


def test_collect_needs_an_allow_and_records_names_only(world: World) -> None:
    """Collecting writes values to the vault and only category names to the ledger."""
    r = world.http.post(
        f"/v1/clients/{world.alice}/data",
        json={"purpose": "suitability", "values": {"user.financial.investment_experience": "x9q"}},
        headers=world.auth(world.advisory),
    )
    assert r.status_code == 201, r.text
    (stored,) = world.services.custos.ledger.entries(
        r.json()["ledger_index"], r.json()["ledger_index"] + 1
    )
    assert b"x9q" not in stored.leaf
    r = world.http.post(
        f"/v1/clients/{world.bob}/data",
        json={"purpose": "suitability", "values": {"user.name": "Bob"}},
        headers=world.auth(world.advisory),
    )
    assert r.status_code == 403 and r.json()["code"] == "access_denied"


def test_use_must_stay_inside_the_decision(world: World) -> None:
    """Recording use of a category the decision did not cover is refused."""
    d = _decide(world, world.advisory, "investment_advice", [AUM])
    ok = world.http.post(
        "/v1/events/used",
        headers=world.auth(world.advisory),
        json={"decision_id": d["decision_id"], "client_id": world.alice, "categories": [AUM]},
    )
    assert ok.status_code == 201
    bad = world.http.post(
        "/v1/events/used",
        headers=world.auth(world.advisory),
        json={
            "decision_id": d["decision_id"],
            "client_id": world.alice,
            "categories": ["user.name"],
        },
    )
    assert bad.status_code == 403
