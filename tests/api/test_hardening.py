"""The front door: one credential per request, body limits, media types, production
headers, problems that never echo what was sent, and errors that name what is wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.api.conftest import World

AUM = "user.financial.assets_under_management"


@pytest.mark.parametrize("authorization", ["Basic Zm9vOmJhcg==", "Digest x", "Bearer ", "Bearer"])
def test_a_malformed_authorization_header_is_401_and_never_falls_back(
    world: World, authorization: str
) -> None:
    """Any Authorization header that is not a bearer key is refused outright, whatever else
    the request carries; nothing is written."""
    before = world.ledger_size()
    r = world.http.post("/v1/me/consent/revoke", json={}, headers={"Authorization": authorization})
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    assert r.headers["www-authenticate"] == "Bearer"
    assert world.ledger_size() == before


def test_bodies_over_the_limit_get_413_before_they_are_read(world: World) -> None:
    """A declared length over CUSTOS_API_MAX_BODY_BYTES is refused; so is a chunked body
    that grows past it."""
    limit = world.services.settings.max_body_bytes
    big = json.dumps({"client_id": world.alice, "purpose": "kyc", "categories": ["x" * limit]})
    r = world.http.post(
        "/v1/decisions",
        content=big,
        headers={**world.auth(world.advisory), "content-type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert len(r.content) < 1000

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    r = world.http.post(
        "/v1/decisions",
        content=chunks(),
        headers={**world.auth(world.advisory), "content-type": "application/json"},
    )
    assert r.status_code == 413


def test_a_huge_value_is_never_echoed_whole(world: World) -> None:
    """A 100,000-character category comes back as a short excerpt and its length."""
    r = world.http.post(
        "/v1/decisions",
        json={"client_id": world.alice, "purpose": "kyc", "categories": ["q" * 100_000]},
        headers=world.auth(world.advisory),
    )
    assert r.status_code == 422
    assert len(r.content) < 1000 and "100000 characters" in r.json()["detail"]


def test_json_endpoints_refuse_other_media_types_with_415(world: World) -> None:
    """text/plain (or no Content-Type) on a JSON endpoint: 415, not a confusing 422."""
    for headers in ({"content-type": "text/plain"}, {}):
        r = world.http.post(
            "/v1/decisions",
            content=b'{"client_id": "x"}',
            headers={**world.auth(world.advisory), **headers},
        )
        assert r.status_code == 415, headers
        assert r.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "body", [b'{"client_id": "\xff\xfe"}', b"[" * 5000 + b"]" * 5000, b"{nope"], ids=str
)
def test_undecodable_bodies_are_malformed_json(world: World, body: bytes) -> None:
    """Not UTF-8, nested past the parser's depth, or a syntax error: 400 malformed_json."""
    r = world.http.post(
        "/v1/decisions",
        content=body,
        headers={**world.auth(world.advisory), "content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["code"] == "malformed_json"


def test_a_batch_error_names_its_item(world: World) -> None:
    """An unknown client or category in item 3 of a batch says items.3.<field>."""
    good = {"client_id": world.alice, "purpose": "kyc", "categories": ["user.name"]}
    for bad, field in (
        ({**good, "client_id": "c_0000000000000000"}, "items.3.client_id"),
        ({**good, "categories": ["user.nothing"]}, "items.3.categories"),
    ):
        r = world.http.post(
            "/v1/decisions:batch",
            json={"items": [good, good, good, bad]},
            headers=world.auth(world.advisory),
        )
        assert r.status_code in (404, 422) and r.json()["field"] == field, r.json()
    single = world.http.post(
        "/v1/decisions",
        json={**good, "client_id": "c_0000000000000000"},
        headers=world.auth(world.advisory),
    )
    assert single.json()["field"] == "client_id"


def test_the_inclusion_proof_problem_names_the_query_parameter(world: World) -> None:
    """?index= past the tree is refused naming `index`, the parameter the caller sent."""
    world.services.custos.ledger.checkpoint()
    r = world.http.get(
        "/v1/ledger/proofs/inclusion", params={"index": 10_000}, headers=world.auth(world.auditor)
    )
    assert r.status_code == 400 and r.json()["field"] == "index"


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("department", "treasury"),
        ("purpose", "gossip"),
        ("category", "user.shoe_size"),
        ("type", "coffee_break"),
    ],
)
def test_unknown_trail_filters_are_422_not_an_empty_page(
    world: World, param: str, value: str
) -> None:
    """A filter naming nothing that exists is an error naming the field, as in decisions."""
    r = world.http.get("/v1/audit/trail", params={param: value}, headers=world.auth(world.auditor))
    assert r.status_code == 422 and r.json()["field"] == param, r.json()
    mine = world.http.get(
        "/v1/me/trail", params={"department": "treasury"}, headers=world.auth(world.alice_token)
    )
    assert mine.status_code == 422


def test_a_bad_time_filter_says_what_format_is_expected(world: World) -> None:
    """since=yesterday: the message gives examples of the format, not a regular expression."""
    r = world.http.get(
        "/v1/audit/trail", params={"since": "yesterday"}, headers=world.auth(world.auditor)
    )
    assert r.status_code == 422
    assert "2026-11-01T09:30:00Z" in r.json()["detail"] and "\\d" not in r.json()["detail"]


def test_error_responses_declare_problem_json_with_its_schema(world: World) -> None:
    """In the OpenAPI document every 4xx/5xx response is application/problem+json with the
    Problem schema, and none claims application/json."""
    doc = world.http.get("/openapi.json").json()
    seen = 0
    for operations in doc["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    seen += 1
                    assert list(response["content"]) == ["application/problem+json"]
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}
    assert seen > 20 and "Problem" in doc["components"]["schemas"]


def test_docs_are_served_from_the_package_with_security_headers(world: World) -> None:
    """/docs and /redoc load no asset from another origin and forbid inline scripts and
    framing; their assets are here."""
    for page in ("/docs", "/redoc"):
        r = world.http.get(page)
        assert r.status_code == 200
        assert "http" not in r.text.replace("http-equiv", "")
        csp = r.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert world.http.get(f"/docs/assets/{asset}").status_code == 200
    assert world.http.get("/docs/custos/swagger-init.js").status_code == 200
