"""``create_app(settings)``: the FastAPI application, its routes, errors and middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.docs import install_docs
from api.fast_lane import DecisionLane
from api.guard import RequestGuard
from api.observe import ObserveMiddleware
from api.portal.install import install_portal
from api.problems import install_problem_handlers, problems_as_problem_json
from api.routes import audit, catalogue, data, decisions, health, ledger, me, proofs, stats
from api.settings import ApiSettings, api_settings
from api.state import Services, build_services
from consent_ledger.ledger import utc_now

__all__ = ["CustosApp", "app_from_environment", "create_app"]


class CustosApp(FastAPI):
    """FastAPI with layers in front of its whole middleware stack (``front``): request
    observation (trace id, metrics, a log line) and the decisions fast lane. In front,
    because FastAPI's own outer layers cost more than a decision does."""

    front: ASGIApp

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.front(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = problems_as_problem_json(super().openapi())
        return self.openapi_schema


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

    app = CustosApp(
        title="Custos",
        version="1.0.0",
        summary="Consent, policy decisions and a verifiable ledger for a financial advisory firm",
        lifespan=lifespan,
        # Metrics are Prometheus (api/metrics.py); FastAPI's OpenTelemetry hooks would
        # otherwise look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False},
        # FastAPI's own pages load their assets from a CDN (api/docs.py serves ours).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs else None,
    )
    app.state.services = built
    install_problem_handlers(app)
    for module in (decisions, data, me, audit, ledger, catalogue, health, stats, proofs):
        app.include_router(module.router)
    install_portal(app)
    if settings.docs:
        install_docs(app)
    # The lane sits in front of the portal's middleware: it takes only bearer-key requests,
    # which the portal's session and CSRF checks leave alone anyway.
    guarded = RequestGuard(
        DecisionLane(app.framework, built),
        max_body_bytes=settings.max_body_bytes,
        production=settings.environment == "production",
    )
    app.front = ObserveMiddleware(guarded, built.metrics)

    return app


def app_from_environment() -> FastAPI:
    """The application as configured by ``CUSTOS_*`` variables (uvicorn's worker factory)."""
    from consent_ledger.logs import configure_logging

    configure_logging()
    return create_app(api_settings())
