"""Collecting, reading and using client data, each only under an allow decision."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query

from api.decisions import DecisionAsk
from api.deps import AppCaller, ServicesDep
from api.errors import AccessDenied, AccessRefused
from api.principals import Principal
from api.problems import Problem
from api.schemas import CollectRequest, LedgerRef, UseRequest, ValuesResponse
from api.state import Services
from consent_ledger.encoding import format_timestamp
from consent_ledger.ledger import NewEntry

router = APIRouter(prefix="/v1", tags=["data"])

_CLIENT = r"^c_[0-9a-f]{16}$"
_ERRORS = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 409, 422)
}


def _mask(value: Any) -> Any:
    """Keep only the last four characters: enough to match a record, not to reveal it."""
    text = str(value)
    return "•" * max(0, len(text) - 4) + text[-4:]


def _app_body(app: Principal, **fields: Any) -> dict[str, Any]:
    return {"app_id": app.account_id, "department": app.department, **fields}


@router.post(
    "/clients/{client_id}/data",
    response_model=LedgerRef,
    status_code=201,
    responses=_ERRORS,  # type: ignore[arg-type]
)
def collect(
    body: CollectRequest,
    app: AppCaller,
    services: ServicesDep,
    client_id: str = Path(pattern=_CLIENT),
) -> LedgerRef:
    """Store personal values in the vault, if the policy allows this app to collect them."""
    (recorded,) = services.decisions.decide(
        app, [DecisionAsk(client_id, body.purpose, tuple(sorted(body.values)))]
    )
    if not recorded.decision.allowed:
        raise AccessDenied(
            f"{recorded.decision.reason} (decision {recorded.decision_id})", field="values"
        )
    appended = services.custos.registry.collect(
        client_id,
        body.values,
        by=app.department or "",
        extra=_app_body(app, purpose=body.purpose, decision_id=recorded.decision_id),
    )
    return LedgerRef(ledger_index=appended.index, timestamp=appended.timestamp)


def _read(services: Services, app: Principal, client_id: str, decision_id: str) -> ValuesResponse:
    usable = services.decisions.usable(app, decision_id, client_id)
    values = services.custos.registry.read_values(client_id, usable.categories)
    if "mask" in usable.obligations:
        values = {k: _mask(v) for k, v in values.items()}
    (appended,) = services.custos.ledger.record(
        NewEntry(
            "data_accessed",
            client_id,
            _app_body(
                app,
                decision_id=decision_id,
                purpose=usable.purpose,
                categories=sorted(values),
            ),
        )
    )
    return ValuesResponse(
        client_id=client_id,
        decision_id=decision_id,
        values=values,
        obligations=list(usable.obligations),
        ledger_index=appended.index,
    )


@router.get("/clients/{client_id}/data", response_model=ValuesResponse, responses=_ERRORS)  # type: ignore[arg-type]
def read(
    app: AppCaller,
    services: ServicesDep,
    client_id: str = Path(pattern=_CLIENT),
    decision_id: str = Query(pattern=r"^[0-9a-f]{32}$"),
) -> ValuesResponse:
    """Exactly the categories an allow decision of this app covered, and nothing more."""
    return _read(services, app, client_id, decision_id)


@router.post("/events/used", response_model=LedgerRef, status_code=201, responses=_ERRORS)  # type: ignore[arg-type]
def record_use(body: UseRequest, app: AppCaller, services: ServicesDep) -> LedgerRef:
    """Record that data obtained under an allow decision was used."""
    usable = services.decisions.usable(app, body.decision_id, body.client_id)
    extra = sorted(set(body.categories) - set(usable.categories))
    if extra:
        raise AccessRefused(f"the decision does not cover: {', '.join(extra)}", field="categories")
    (appended,) = services.custos.ledger.record(
        NewEntry(
            "data_used",
            body.client_id,
            _app_body(
                app,
                decision_id=body.decision_id,
                purpose=usable.purpose,
                categories=sorted(body.categories),
                reported_at=format_timestamp(services.clock()),
            ),
        )
    )
    return LedgerRef(ledger_index=appended.index, timestamp=appended.timestamp)
