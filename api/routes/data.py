"""Collecting, reading and using client data, each only under an allow decision."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from api.deps import AppCaller, ServicesDep
from api.problems import problem_responses
from api.schemas import CollectRequest, Instructions, LedgerRef, UseRequest, ValuesResponse

router = APIRouter(prefix="/v1", tags=["data"])

_CLIENT = r"^c_[0-9a-f]{16}$"
_ERRORS = problem_responses(400, 401, 403, 404, 409, 422)


@router.post(
    "/clients/{client_id}/data", response_model=LedgerRef, status_code=201, responses=_ERRORS
)
def collect(
    body: CollectRequest,
    app: AppCaller,
    services: ServicesDep,
    client_id: str = Path(pattern=_CLIENT),
) -> LedgerRef:
    """Store personal values in the vault, if the policy allows this app to collect them.
    A refusal still records its (deny) decision on the ledger; nothing reaches the vault."""
    appended = services.data.collect(app, client_id, body.purpose, body.values)
    return LedgerRef(ledger_index=appended.index, timestamp=appended.timestamp)


@router.get("/clients/{client_id}/data", response_model=ValuesResponse, responses=_ERRORS)
def read(
    app: AppCaller,
    services: ServicesDep,
    client_id: str = Path(pattern=_CLIENT),
    decision_id: str = Query(pattern=r"^[0-9a-f]{32}$"),
) -> ValuesResponse:
    """Exactly the categories an allow decision of this app covered, and nothing more, if
    the client's consent still covers them now and the decision's obligations admit a read
    (`aggregate_only`, `federated_only` and `requires_proof` never do: 403
    `obligation_forbids`). Values come with their instructions (masked, keep for
    `retain_days`, delete by `delete_by`)."""
    r = services.data.read(app, decision_id, client_id)
    return ValuesResponse(
        client_id=client_id,
        decision_id=decision_id,
        values=r.values,
        obligations=[str(o) for o in r.obligations],
        instructions=Instructions.model_validate(r.instructions.to_json()),
        ledger_index=r.ledger_index,
    )


@router.post("/events/used", response_model=LedgerRef, status_code=201, responses=_ERRORS)
def record_use(body: UseRequest, app: AppCaller, services: ServicesDep) -> LedgerRef:
    """Record that data obtained under an allow decision was used; refused, and the
    refusal recorded, once the client's consent no longer covers it."""
    r = services.data.report_use(app, body.decision_id, body.client_id, body.categories)
    return LedgerRef(ledger_index=r.ledger_index, timestamp=r.timestamp)
