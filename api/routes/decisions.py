"""Policy decisions for the firm's apps."""

from __future__ import annotations

from fastapi import APIRouter, Header

from api.decisions import DecisionAsk, RecordedDecision
from api.deps import AppCaller, ServicesDep
from api.problems import Problem
from api.schemas import (
    BatchDecisionRequest,
    BatchDecisionResponse,
    DecisionRequest,
    DecisionResponse,
)

router = APIRouter(prefix="/v1", tags=["decisions"])

_ERRORS = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 422)
}


def _ask(r: DecisionRequest) -> DecisionAsk:
    return DecisionAsk(
        r.client_id, r.purpose, tuple(r.categories), r.access, r.stage, r.proof_presented
    )


def _view(r: RecordedDecision) -> DecisionResponse:
    d = r.decision
    return DecisionResponse(
        decision_id=r.decision_id,
        outcome=d.outcome.value,
        reason_code=d.reason_code.value,
        reason=d.reason,
        rule_id=d.rule_id,
        obligations=[str(o) for o in d.obligations],
        policy_version=d.policy_version,
        categories=list(d.categories),
        ledger_index=r.ledger_index,
        timestamp=r.timestamp,
    )


@router.post("/decisions", response_model=DecisionResponse, responses=_ERRORS)  # type: ignore[arg-type]
async def decide_one(
    body: DecisionRequest,
    app: AppCaller,
    services: ServicesDep,
    x_trace_id: str | None = Header(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$"),
) -> DecisionResponse:
    """Decide one request and put the decision on the ledger before answering."""
    (recorded,) = await services.decisions.decide_async(app, [_ask(body)], x_trace_id)
    services.metrics.decisions.labels(recorded.decision.outcome.value).inc()
    return _view(recorded)


@router.post("/decisions:batch", response_model=BatchDecisionResponse, responses=_ERRORS)  # type: ignore[arg-type]
async def decide_batch(
    body: BatchDecisionRequest,
    app: AppCaller,
    services: ServicesDep,
    x_trace_id: str | None = Header(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$"),
) -> BatchDecisionResponse:
    """Decide many requests at once; one invalid item refuses the batch and writes nothing."""
    recorded = await services.decisions.decide_async(app, [_ask(i) for i in body.items], x_trace_id)
    for r in recorded:
        services.metrics.decisions.labels(r.decision.outcome.value).inc()
    return BatchDecisionResponse(decisions=[_view(r) for r in recorded])
