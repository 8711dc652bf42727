"""Every endpoint checks who is calling."""

from __future__ import annotations

from tests.api.conftest import World


def test_missing_and_wrong_keys_are_401(world: World) -> None:
    """No key, a malformed key and a forged secret are all 401 problems."""
    body = {"client_id": world.alice, "purpose": "kyc", "categories": ["user.name"]}
    for headers in (
        {},
        {"Authorization": "Bearer nonsense"},
        world.auth(world.advisory[:-4] + "AAAA"),
    ):
        r = world.http.post("/v1/decisions", json=body, headers=headers)
        assert r.status_code == 401, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"


def test_roles_are_enforced(world: World) -> None:
    """Apps cannot read the audit trail; auditors cannot decide; clients cannot do either."""
    assert world.http.get("/v1/audit/trail", headers=world.auth(world.advisory)).status_code == 403
    assert (
        world.http.get("/v1/audit/trail", headers=world.auth(world.alice_token)).status_code == 403
    )
    body = {"client_id": world.alice, "purpose": "kyc", "categories": ["user.name"]}
    for key in (world.auditor, world.alice_token):
        assert (
            world.http.post("/v1/decisions", json=body, headers=world.auth(key)).status_code == 403
        )
    assert world.http.get("/v1/me/consent", headers=world.auth(world.auditor)).status_code == 403


def test_a_client_sees_only_itself(world: World) -> None:
    """Bob's token shows Bob's consent and trail, never Alice's entries."""
    r = world.http.get("/v1/me/trail", headers=world.auth(world.bob_token))
    assert r.status_code == 200
    assert all(item["subject"] == world.bob for item in r.json()["items"])
    assert (
        world.http.get("/v1/me/consent", headers=world.auth(world.bob_token)).json()["client_id"]
        == world.bob
    )


def test_an_app_cannot_use_another_apps_decision(world: World) -> None:
    """A decision id of one app is unknown to every other app."""
    r = world.http.post(
        "/v1/decisions",
        json={
            "client_id": world.alice,
            "purpose": "investment_advice",
            "categories": ["user.name"],
        },
        headers=world.auth(world.advisory),
    )
    decision_id = r.json()["decision_id"]
    url = f"/v1/clients/{world.alice}/data?decision_id={decision_id}"
    assert world.http.get(url, headers=world.auth(world.advisory)).status_code == 200
    r = world.http.get(url, headers=world.auth(world.marketing_app))
    assert r.status_code == 404 and r.json()["code"] == "unknown_decision"


def test_revoked_key_stops_working(world: World) -> None:
    """Rotating a key revokes the old one at once."""
    principal = world.services.accounts.authenticate(world.advisory)
    new = world.services.accounts.rotate(principal.account_id, world.clock())
    r = world.http.get("/v1/ledger/public-key", headers=world.auth(world.advisory))
    assert r.status_code == 200  # public
    body = {"client_id": world.alice, "purpose": "kyc", "categories": ["user.name"]}
    assert (
        world.http.post("/v1/decisions", json=body, headers=world.auth(world.advisory)).status_code
        == 401
    )
    assert (
        world.http.post("/v1/decisions", json=body, headers=world.auth(new.key)).status_code == 200
    )
