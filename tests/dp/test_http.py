"""The /v1/stats API: fixed shapes, analyst keys only, and every bad input a 4xx naming its
field with nothing spent and nothing on the ledger."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from custos_client import AsyncCustosClient, CustosClient, CustosProblem
from tests.dp.conftest import DpWorld
from tests.support.asyncio_thread import run_in_own_thread
from tests.support.server import serve_in_thread

JSON = {"Content-Type": "application/json"}


@dataclass
class Api:
    world: DpWorld
    http: TestClient
    key: str
    headers: dict[str, str]

    def size(self) -> int:
        return self.world.services.custos.ledger.size()


@pytest.fixture
def api(world: DpWorld) -> Iterator[Api]:
    for n in range(8):
        world.add_client(n)
    _, key = world.analyst(2.0)
    s = world.services
    app = create_app(s.settings, clock=world.clock, services=s, checkpointing=False)
    with TestClient(app, raise_server_exceptions=False) as http:
        yield Api(world, http, key, {"Authorization": f"Bearer {key}"})


def test_preview_release_and_budget_have_the_fixed_shapes(api: Api) -> None:
    body = {"dataset": "clients", "statistic": "count", "column": None, "epsilon": 0.5}
    before = api.size()
    r = api.http.post("/v1/stats:preview", json=body, headers=api.headers)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert {"epsilon", "confidence", "error", "epsilon_remaining"} <= preview.keys()
    assert preview["confidence"] == 0.95 and preview["epsilon_remaining"] == 2.0
    assert api.size() == before
    back = api.http.post(
        "/v1/stats:preview",
        json={"dataset": "clients", "statistic": "count", "error": preview["error"]},
        headers=api.headers,
    ).json()
    assert back["epsilon"] == pytest.approx(0.5, rel=1e-3) and back["epsilon"] <= 0.5
    r = api.http.post("/v1/stats", json=body, headers=api.headers)
    assert r.status_code == 200, r.text
    release = r.json()
    assert release.keys() >= {
        "value",
        "error",
        "confidence",
        "epsilon_spent",
        "epsilon_remaining",
        "mechanism",
        "ledger_index",
    }
    assert release["epsilon_spent"] == 0.5 and release["epsilon_remaining"] == 1.5
    assert release["mechanism"] == "discrete_laplace"
    assert release["ledger_index"] == before and api.size() == before + 1
    grouped = api.http.post(
        "/v1/stats",
        json={
            "dataset": "clients",
            "statistic": "mean",
            "column": "assets_under_management",
            "group_by": ["risk_level"],
            "epsilon": 0.5,
        },
        headers=api.headers,
    ).json()
    # A grouped mean states an error per group (each group's own released count).
    assert set(grouped["value"]) == set(grouped["error"]) == {"C1", "C2", "C3", "C4", "C5"}
    budget = api.http.get("/v1/stats/budget", headers=api.headers).json()
    assert budget == {"epsilon_total": 2.0, "epsilon_spent": 1.0, "epsilon_remaining": 1.0}


def test_over_budget_is_budget_exceeded_with_what_remains(api: Api) -> None:
    body = {"dataset": "clients", "statistic": "count", "epsilon": 1.5}
    assert api.http.post("/v1/stats", json=body, headers=api.headers).status_code == 200
    before = api.size()
    r = api.http.post("/v1/stats", json=body, headers=api.headers)
    assert r.status_code == 403
    problem = r.json()
    assert problem["code"] == "budget_exceeded" and problem["field"] == "epsilon"
    assert problem["epsilon_remaining"] == 0.5
    assert r.headers["content-type"].startswith("application/problem+json")
    assert api.size() == before


def test_a_large_epsilon_is_warned_about(api: Api) -> None:
    api.world.analyst(50.0, name="bold")
    body = {"dataset": "clients", "statistic": "count", "epsilon": 6.0}
    r = api.http.post("/v1/stats:preview", json=body, headers=api.headers).json()
    assert "above 5.0" in r["warning"]


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"dataset": "trades"}, 422, "unknown_dataset", "dataset"),
        ({"column": "name"}, 422, "unknown_column", "column"),
        ({"epsilon": 0}, 422, "invalid_statistic", "epsilon"),
        ({"epsilon": -1}, 422, "invalid_statistic", "epsilon"),
        ({"epsilon": math.nan}, 422, "invalid_statistic", "epsilon"),
        ({"epsilon": math.inf}, 422, "invalid_statistic", "epsilon"),
        ({"epsilon": 11.0}, 422, "invalid_statistic", "epsilon"),  # above the dataset's cap
        ({"confidence": 1.0}, 422, "invalid_statistic", "confidence"),
        ({"confidence": 0}, 422, "invalid_statistic", "confidence"),
        ({"confidence": 1e-300}, 422, "invalid_statistic", "confidence"),
        ({"statistic": "quantile", "quantile": 1.5}, 422, "invalid_statistic", "quantile"),
        ({"statistic": "quantile", "quantile": -0.1}, 422, "invalid_statistic", "quantile"),
        ({"statistic": "quantile", "quantile": None}, 422, "invalid_statistic", "quantile"),
        ({"group_by": ["dependents"]}, 422, "invalid_statistic", "group_by.0"),
        ({"group_by": ["nope"]}, 422, "unknown_column", "group_by.0"),
        ({"statistic": "histogram", "column": "dependents"}, 422, "invalid_statistic", "column"),
        ({"statistic": "sum", "column": "risk_level"}, 422, "invalid_statistic", "column"),
        ({"statistic": "mean", "column": None}, 422, "invalid_statistic", "column"),
        ({"statistic": "median"}, 422, "validation_failed", "statistic"),
        ({"epsilon": "lots"}, 422, "validation_failed", "epsilon"),
        ({"extra": 1}, 422, "validation_failed", "extra"),
    ],
)
def test_bad_input_names_its_field_and_changes_nothing(
    api: Api, change: dict[str, Any], status: int, code: str, field: str
) -> None:
    body = {
        "dataset": "clients",
        "statistic": "sum",
        "column": "assets_under_management",
        "epsilon": 0.5,
    } | change
    before = api.size()
    # json.dumps writes NaN and Infinity as JavaScript does; httpx's json= refuses them.
    raw = json.dumps(body)
    for path in ("/v1/stats", "/v1/stats:preview"):
        r = api.http.post(path, content=raw, headers=api.headers | JSON)
        assert r.status_code == status, (path, r.text)
        assert (r.json()["code"], r.json().get("field")) == (code, field), r.text
    assert api.size() == before
    assert api.http.get("/v1/stats/budget", headers=api.headers).json()["epsilon_spent"] == 0


def test_other_roles_and_no_key_are_refused(api: Api) -> None:
    accounts, now = api.world.services.accounts, api.world.clock()
    research_app = accounts.create_app("research", "research desk", now).key
    auditor = accounts.create_auditor("audit", now).key
    body = {"dataset": "clients", "statistic": "count", "epsilon": 0.5}
    before = api.size()
    for key in (research_app, auditor):
        for method, path in (
            ("POST", "/v1/stats"),
            ("POST", "/v1/stats:preview"),
            ("GET", "/v1/stats/budget"),
        ):
            r = api.http.request(
                method, path, json=body, headers={"Authorization": f"Bearer {key}"}
            )
            assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert api.http.post("/v1/stats", json=body).status_code == 401
    bad = {"Authorization": f"Bearer {api.key[:-2]}xx"}
    assert api.http.post("/v1/stats", json=body, headers=bad).status_code == 401
    assert api.size() == before


def test_the_auditor_trail_filters_releases_by_analyst(api: Api) -> None:
    analyst = api.world.services.accounts.authenticate(api.key)
    api.http.post(
        "/v1/stats",
        json={"dataset": "clients", "statistic": "count", "epsilon": 0.1},
        headers=api.headers,
    )
    auditor = api.world.services.accounts.create_auditor("audit", api.world.clock()).key
    r = api.http.get(
        "/v1/audit/trail",
        params={"type": "dp_release", "analyst_id": analyst.account_id},
        headers={"Authorization": f"Bearer {auditor}"},
    )
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["body"]["analyst_id"] == analyst.account_id and item["subject"] is None


def test_the_typed_client_sync_and_async(api: Api) -> None:
    s = api.world.services
    app = create_app(s.settings, clock=api.world.clock, services=s, checkpointing=False)
    with serve_in_thread(app) as base:
        with CustosClient(base, api.key) as custos:
            p = custos.stats_preview("clients", "histogram", column="risk_level", epsilon=0.5)
            assert p.error is not None and p.epsilon_remaining == 2.0
            r = custos.stats("clients", "histogram", column="risk_level", epsilon=0.5)
            assert isinstance(r.value, dict) and r.epsilon_remaining == 1.5
            with pytest.raises(CustosProblem) as refused:
                custos.stats("clients", "count", epsilon=1.9)
            assert refused.value.code == "budget_exceeded"
            assert refused.value.problem["epsilon_remaining"] == 1.5

        async def use() -> None:
            async with AsyncCustosClient(base, api.key) as custos:
                r = await custos.stats(
                    "clients", "quantile", column="risk_score", quantile=0.5, epsilon=0.5
                )
                assert isinstance(r.value, int) and 10 <= r.value <= 50
                assert (await custos.budget()).epsilon_remaining == 1.0

        run_in_own_thread(use())
