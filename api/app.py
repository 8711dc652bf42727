"""``create_app(settings)``: the FastAPI application, its routes, errors and middleware."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import structlog
from fastapi import FastAPI, Request, Response

from api.problems import install_problem_handlers
from api.routes import audit, catalogue, data, decisions, health, ledger, me
from api.settings import ApiSettings
from api.state import Services, build_services
from consent_ledger.ledger import utc_now

__all__ = ["create_app"]

log = structlog.get_logger(__name__)


def create_app(
    settings: ApiSettings,
    *,
    clock: Callable[[], datetime] = utc_now,
    services: Services | None = None,
    checkpointing: bool = True,
) -> FastAPI:
    built = services or build_services(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if checkpointing:
            built.start_checkpointing()
        yield
        built.close()

    app = FastAPI(
        title="Custos",
        version="1.0.0",
        summary="Consent, policy decisions and a verifiable ledger for a financial advisory firm",
        lifespan=lifespan,
    )
    app.state.services = built
    install_problem_handlers(app)
    for module in (decisions, data, me, audit, ledger, catalogue, health):
        app.include_router(module.router)

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        trace_id = request.headers.get("x-trace-id") or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(trace_id=trace_id)
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        built.metrics.requests.labels(template, request.method, str(response.status_code)).inc()
        built.metrics.latency.labels(template).observe(elapsed)
        response.headers["X-Trace-Id"] = trace_id
        log.info(
            "request",
            method=request.method,
            path=template,
            status=response.status_code,
            duration_ms=round(elapsed * 1000, 2),
        )
        structlog.contextvars.unbind_contextvars("trace_id")
        return response

    return app
