"""A lean lane for the hottest endpoints, ``POST /v1/decisions`` and ``/v1/decisions:batch``.

FastAPI's per-request machinery (matching through included routers, solving the dependency
tree, validating the response model) costs several times the decision itself: on a 2-core
machine a bare FastAPI POST endpoint answers about 1,700 requests/s where a plain ASGI
callable answers 8,000. This middleware answers the common case without that machinery: an
app key in the ``Authorization`` header and a JSON body, of declared length, that validates.

Everything else goes on, untouched, to the FastAPI routes: no key or another role, a body
that fails validation, a chunked or oversized body, a malformed trace id. Those routes stay
the documented contract and produce every client error, so there is one place for each
rule. Both lanes share the schemas, ``record_decisions`` and the problem mapping; a test
sends the same requests down both and compares the answers.
"""

from __future__ import annotations

import re

import orjson
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from api.asgi import read_body, replay
from api.problems import problem_for
from api.routes.decisions import ask_of, record_decisions
from api.routes.decisions import router as decisions_router
from api.schemas import TRACE_ID_PATTERN, BatchDecisionRequest, DecisionRequest
from api.state import Services
from consent_ledger.errors import Unauthenticated
from consent_ledger.principals import Role

__all__ = ["MAX_BODY_BYTES", "DecisionLane"]

# A full batch (500 items of 32 categories) is well under this; anything larger is left to
# the framework's lane, which refuses it by validation.
MAX_BODY_BYTES = 2 * 1024 * 1024
_TRACE_ID = re.compile(TRACE_ID_PATTERN)
_SINGLE = TypeAdapter(DecisionRequest)
_BATCH = TypeAdapter(BatchDecisionRequest)
_JSON_HEADERS = [(b"content-type", b"application/json")]


def _first_headers(scope: Scope) -> dict[bytes, bytes]:
    # The first of repeated headers wins, as Starlette's Headers.get does for the routes.
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        found.setdefault(name, value)
    return found


def _json_type(content_type: bytes | None) -> bool:
    return (
        content_type is not None
        and content_type.split(b";", 1)[0].strip().lower() == b"application/json"
    )


def _length_declared_within_limit(headers: dict[bytes, bytes]) -> bool:
    raw = headers.get(b"content-length")
    return raw is not None and raw.isdigit() and int(raw) <= MAX_BODY_BYTES


def _bearer(authorization: bytes | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


class DecisionLane:
    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services
        # The routes' own objects, so metrics and logs name the same route templates.
        self.routes: dict[str, APIRoute] = {
            route.path: route for route in decisions_router.routes if isinstance(route, APIRoute)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or scope["method"] != "POST" or path not in self.routes:
            await self.app(scope, receive, send)
            return
        headers = _first_headers(scope)
        token = _bearer(headers.get(b"authorization"))
        trace = headers.get(b"x-trace-id")
        trace_id = None if trace is None else trace.decode("latin-1")
        if (
            token is None
            or (trace_id is not None and not _TRACE_ID.match(trace_id))
            or not _json_type(headers.get(b"content-type"))
            or not _length_declared_within_limit(headers)
        ):
            await self.app(scope, receive, send)
            return
        try:
            principal = self.services.accounts.authenticate(token)
        except Unauthenticated:
            principal = None
        if principal is None or principal.role is not Role.APP:
            await self.app(scope, receive, send)
            return
        # The server frames the body by its Content-Length, which is within the limit.
        body = await read_body(receive, MAX_BODY_BYTES)
        try:
            asks = (
                [ask_of(_SINGLE.validate_json(body))]
                if path == "/v1/decisions"
                else [ask_of(item) for item in _BATCH.validate_json(body).items]
            )
        except ValidationError:
            await self.app(scope, replay(body, receive), send)
            return
        scope["route"] = self.routes[path]
        try:
            answers = await record_decisions(
                self.services, principal, asks, trace_id, batch=path != "/v1/decisions"
            )
        except Exception as exc:  # noqa: BLE001 - mapped to a problem exactly as the routes do
            await problem_for(exc, path)(scope, receive, send)
            return
        payload = orjson.dumps(answers[0] if path == "/v1/decisions" else {"decisions": answers})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})
