"""The decisions fast lane answers the common case itself and hands everything else, body
intact, to the FastAPI routes; both lanes give the same answers."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson
import pytest

from api.fast_lane import DecisionLane
from tests.api.conftest import World
from tests.support.asyncio_thread import run_in_own_thread

SAME = (
    "outcome",
    "reason_code",
    "reason",
    "rule_id",
    "obligations",
    "policy_version",
    "categories",
)


def _ask(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "client_id": world.alice,
        "purpose": "investment_advice",
        "categories": ["user.financial.assets_under_management"],
    } | overrides


def _chunked(body: bytes) -> Iterator[bytes]:
    # No Content-Length: the lane leaves such a request to the framework.
    yield body


class _Recorder:
    """Stands in for the framework behind the lane: remembers what reached it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _call(lane: DecisionLane, path: str, headers: dict[str, str], body: bytes) -> int:
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    run_in_own_thread(lane(scope, receive, send))
    return int(sent[0]["status"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_lane_answers_good_requests_and_passes_the_rest_on_untouched(world: World) -> None:
    framework = _Recorder()
    lane = DecisionLane(framework, world.services)
    good = orjson.dumps(_ask(world))
    json_key = {"Content-Type": "application/json", "Authorization": f"Bearer {world.advisory}"}

    def with_length(headers: dict[str, str], body: bytes) -> dict[str, str]:
        return headers | {"Content-Length": str(len(body))}

    assert _call(lane, "/v1/decisions", with_length(json_key, good), good) == 200
    batch = orjson.dumps({"items": [_ask(world), _ask(world, purpose="marketing")]})
    assert _call(lane, "/v1/decisions:batch", with_length(json_key, batch), batch) == 200
    assert framework.bodies == []

    passed_on = [
        ("/v1/decisions", with_length(json_key, b"{}"), b"{}"),  # fails validation
        ("/v1/decisions", json_key, good),  # no Content-Length
        ("/v1/decisions", with_length(json_key | {"Content-Type": "text/plain"}, good), good),
        ("/v1/decisions", with_length(json_key | {"X-Trace-Id": "no spaces!"}, good), good),
        ("/v1/decisions", with_length(json_key | {"Authorization": "Bearer nope"}, good), good),
        (
            "/v1/decisions",
            with_length(json_key | {"Authorization": f"Basic {world.advisory}"}, good),
            good,
        ),
        (
            "/v1/decisions",
            with_length(json_key | {"Authorization": f"Bearer {world.auditor}"}, good),
            good,
        ),
        ("/v1/decisions/other", with_length(json_key, good), good),
    ]
    for path, headers, body in passed_on:
        assert _call(lane, path, headers, body) == 299
    assert framework.bodies == [body for _, _, body in passed_on]


def test_both_lanes_give_the_same_decisions(world: World) -> None:
    for ask in (
        _ask(world),
        _ask(world, purpose="marketing", categories=["user.financial.assets_under_management"]),
        _ask(world, client_id=world.bob),
    ):
        body = orjson.dumps(ask)
        headers = world.auth(world.advisory) | {"Content-Type": "application/json"}
        fast = world.http.post("/v1/decisions", content=body, headers=headers)
        framework = world.http.post("/v1/decisions", content=_chunked(body), headers=headers)
        assert fast.status_code == framework.status_code == 200
        a, b = fast.json(), framework.json()
        assert {k: a[k] for k in SAME} == {k: b[k] for k in SAME}
        assert b["ledger_index"] == a["ledger_index"] + 1
        assert set(a) == set(b)
        assert fast.headers["content-type"] == framework.headers["content-type"]
        assert "x-trace-id" in fast.headers


def test_both_lanes_refuse_alike(world: World) -> None:
    headers = world.auth(world.advisory) | {"Content-Type": "application/json"}
    size = world.ledger_size()
    for ask in (
        _ask(world, client_id="c_0000000000000000"),
        _ask(world, purpose="no_such_purpose"),
        _ask(world, categories=["user.no_such_category"]),
    ):
        body = orjson.dumps(ask)
        fast = world.http.post("/v1/decisions", content=body, headers=headers)
        framework = world.http.post("/v1/decisions", content=_chunked(body), headers=headers)
        assert fast.status_code == framework.status_code
        assert 400 <= fast.status_code < 500
        assert fast.json() == framework.json()
        assert fast.headers["content-type"] == "application/problem+json"
    assert world.ledger_size() == size


def test_a_trace_id_reaches_the_ledger_entry_through_the_lane(world: World) -> None:
    headers = world.auth(world.advisory) | {"X-Trace-Id": "app-trace-42"}
    response = world.http.post("/v1/decisions", json=_ask(world), headers=headers)
    # The response echoes the caller's trace id: the one on the ledger entry.
    assert response.headers["x-trace-id"] == "app-trace-42"
    answer = response.json()
    (entry,) = world.services.custos.ledger.entries(
        answer["ledger_index"], answer["ledger_index"] + 1
    )
    assert orjson.loads(entry.leaf)["body"]["trace_id"] == "app-trace-42"
