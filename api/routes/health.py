"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ServicesDep
from api.problems import problem_response

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database is not reachable"}})
def readyz(services: ServicesDep) -> Any:
    """The database answers and the ledger can be read."""
    try:
        size = services.custos.ledger.size()
    except Exception:  # noqa: BLE001 - any failure means not ready
        return problem_response("internal_error", "the database is not reachable")
    return {
        "status": "ready",
        "ledger_size": size,
        "policy_version": services.policy.current.version,
    }


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(services: ServicesDep) -> Response:
    """Prometheus text format: requests, latencies, decisions by outcome, ledger size."""
    services.metrics.ledger_size.set(services.custos.ledger.size())
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
