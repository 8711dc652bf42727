"""Policy decisions for the firm's apps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Header

from api.deps import AppCaller, ServicesDep
from api.problems import problem_responses
from api.schemas import (
    TRACE_ID_PATTERN,
    BatchDecisionRequest,
    BatchDecisionResponse,
    DecisionRequest,
    DecisionResponse,
)
from api.state import Services
from consent_ledger.principals import Principal
from policies.service import DecisionAsk, RecordedDecision

router = APIRouter(prefix="/v1", tags=["decisions"])

_ERRORS = problem_responses(400, 401, 403, 404, 422)


def ask_of(r: DecisionRequest) -> DecisionAsk:
    return DecisionAsk(r.client_id, r.purpose, tuple(r.categories), r.access, r.stage, r.proof_id)


def _view(r: RecordedDecision) -> dict[str, Any]:
    """A ``DecisionResponse`` as a plain dict: the routes validate it against their response
    model; the fast lane serializes it as is (schema-checked by the API fuzz tests)."""
    d = r.decision
    return {
        "decision_id": r.decision_id,
        "outcome": d.outcome.value,
        "reason_code": d.reason_code.value,
        "reason": d.reason,
        "rule_id": d.rule_id,
        "obligations": [str(o) for o in d.obligations],
        "policy_version": d.policy_version,
        "categories": list(d.categories),
        "ledger_index": r.ledger_index,
        "timestamp": r.timestamp,
        "proof_request": None if r.proof_request is None else r.proof_request.to_json(),
        "proof": None if r.proof is None else r.proof.to_json(),
    }


async def record_decisions(
    services: Services,
    app: Principal,
    asks: Sequence[DecisionAsk],
    trace_id: str | None,
    *,
    batch: bool = False,
) -> list[dict[str, Any]]:
    """Decide, wait until every decision is on the ledger, count them, and shape the answer.
    Both the routes below and the fast lane (api/fast_lane.py) answer through this."""
    recorded = await services.decisions.decide_async(app, asks, trace_id, numbered=batch)
    for r in recorded:
        services.metrics.count_decision(r.decision.outcome.value)
    return [_view(r) for r in recorded]


@router.post("/decisions", response_model=DecisionResponse, responses=_ERRORS)
async def decide_one(
    body: DecisionRequest,
    app: AppCaller,
    services: ServicesDep,
    x_trace_id: str | None = Header(default=None, pattern=TRACE_ID_PATTERN),
) -> Any:
    """Decide one request and put the decision on the ledger before answering."""
    (answer,) = await record_decisions(services, app, [ask_of(body)], x_trace_id)
    return answer


@router.post("/decisions:batch", response_model=BatchDecisionResponse, responses=_ERRORS)
async def decide_batch(
    body: BatchDecisionRequest,
    app: AppCaller,
    services: ServicesDep,
    x_trace_id: str | None = Header(default=None, pattern=TRACE_ID_PATTERN),
) -> Any:
    """Decide many requests at once; one invalid item refuses the batch and writes nothing."""
    asks = [ask_of(i) for i in body.items]
    answers = await record_decisions(services, app, asks, x_trace_id, batch=True)
    return {"decisions": answers}
