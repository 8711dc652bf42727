"""Request observation as a plain ASGI middleware: trace id, metrics and one log line.

A plain ASGI callable rather than Starlette's BaseHTTPMiddleware, which costs a task and a
stream per request on a path where decisions must stay in single-digit milliseconds.
"""

from __future__ import annotations

import os
import re
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics
from api.schemas import TRACE_ID_PATTERN

__all__ = ["ObserveMiddleware"]

log = structlog.get_logger("api.request")
_TRACE_ID = re.compile(TRACE_ID_PATTERN)


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace = next((v for k, v in scope["headers"] if k == b"x-trace-id"), b"").decode("latin-1")
        trace_id = trace if _TRACE_ID.match(trace) else os.urandom(16).hex()
        status = 500
        started = time.perf_counter()

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-trace-id", trace_id.encode()),
                ]
            await send(message)

        structlog.contextvars.bind_contextvars(trace_id=trace_id)
        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.observe_request(template, scope["method"], status, elapsed)
            log.info(
                "request",
                method=scope["method"],
                path=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("trace_id")
