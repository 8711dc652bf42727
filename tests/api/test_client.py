"""The typed Python client the firm's apps import."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from custos_client import AsyncCustosClient, CustosClient, CustosProblem
from tests.api.conftest import World
from tests.support.asyncio_thread import run_in_own_thread
from tests.support.server import serve_in_thread

AUM = "user.financial.assets_under_management"


@pytest.fixture
def base_url(world: World) -> Iterator[str]:
    with serve_in_thread(world.http.app) as url:
        yield url


def test_sync_client_decides_and_reads(world: World, base_url: str) -> None:
    """decide() returns a typed Decision; read() returns exactly the allowed values."""
    with CustosClient(base_url, world.advisory) as custos:
        d = custos.decide(world.alice, "investment_advice", [AUM])
        assert d.allowed and d.categories == (AUM,) and d.ledger_index >= 0
        values = custos.read(d)
        assert values == {AUM: 2_500_000}
        assert not values.masked and values.retain_days is None and values.ledger_index > 0
        denied = custos.decide(world.bob, "investment_advice", [AUM])
        assert not denied.allowed and denied.reason_code == "no_consent"
        with pytest.raises(CustosProblem) as info:
            custos.read(denied)
        assert info.value.status == 403 and info.value.code == "decision_not_usable"
        many = custos.decide_many(
            [(world.alice, "kyc", ["user.name"]), (world.bob, "kyc", ["user.name"])]
        )
        assert [m.client_id for m in many] == [world.alice, world.bob]


def test_async_client(world: World, base_url: str) -> None:
    """The async client makes the same calls concurrently."""

    async def run() -> list[bool]:
        async with AsyncCustosClient(base_url, world.advisory) as custos:
            ds = await asyncio.gather(
                *(custos.decide(world.alice, "investment_advice", [AUM]) for _ in range(10))
            )
            return [d.allowed for d in ds]

    assert run_in_own_thread(run()) == [True] * 10


def test_unknown_names_raise_problems(world: World, base_url: str) -> None:
    """A 4xx comes back as CustosProblem with the RFC 9457 code."""
    with CustosClient(base_url, world.advisory) as custos, pytest.raises(CustosProblem) as info:
        custos.decide(world.alice, "lottery", [AUM])
    assert info.value.code == "unknown_purpose"


def test_retries_on_service_unavailable() -> None:
    """503 (not ready, nothing recorded) is retried; the third answer wins."""
    answers = iter([503, 503, 200])
    body: dict[str, object] = {
        "decision_id": "d" * 32,
        "outcome": "deny",
        "reason_code": "no_consent",
        "reason": "r",
        "rule_id": None,
        "obligations": [],
        "policy_version": "v",
        "categories": [],
        "ledger_index": 1,
        "timestamp": "t",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, json=body if status == 200 else {"code": "x"})

    custos = CustosClient("http://custos.test", "k", retries=3)
    custos._http = httpx.Client(
        base_url="http://custos.test", transport=httpx.MockTransport(handler)
    )
    assert custos.decide("c_" + "0" * 16, "kyc", ["user.name"]).ledger_index == 1
