"""A client's own consent, trail, receipt and erasure. A client only ever sees itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from api.deps import ClientCaller, ServicesDep
from api.problems import problem_responses
from api.schemas import (
    MAX_INDEX,
    ConsentChange,
    ConsentGrant,
    ConsentRevoke,
    ConsentView,
    LedgerRef,
    TrailItem,
    TrailPage,
)
from api.state import Services
from consent_ledger.audit import TrailQuery
from consent_ledger.errors import ConsentNotFound, InvalidRequest
from consent_ledger.principals import Principal
from consent_ledger.receipts import build_receipt
from consent_ledger.registry import Recorded

router = APIRouter(prefix="/v1/me", tags=["client"])

_ERRORS = problem_responses(400, 401, 403, 404, 409, 422)


def _client_id(me: Principal) -> str:
    assert me.client_id is not None
    return me.client_id


def consent_view(services: Services, client_id: str) -> ConsentView:
    c = services.custos.registry.current(client_id)
    if c is None or not c.is_active(services.clock()):
        return ConsentView(client_id=client_id, active=False)
    return ConsentView(
        client_id=client_id,
        active=True,
        level=c.level,
        purposes=sorted(c.purposes),
        granted_at=c.granted_at,
        expires_at=c.expires_at,
    )


def _ref(recorded: Recorded) -> LedgerRef:
    last = recorded.entries[-1]
    return LedgerRef(ledger_index=last.index, timestamp=last.timestamp)


@router.get("/consent", response_model=ConsentView, responses=_ERRORS)
def get_consent(me: ClientCaller, services: ServicesDep) -> ConsentView:
    """The consent in force now (an expired one reads as inactive)."""
    return consent_view(services, _client_id(me))


@router.post("/consent", response_model=LedgerRef, status_code=201, responses=_ERRORS)
def grant(body: ConsentGrant, me: ClientCaller, services: ServicesDep) -> LedgerRef:
    """Grant a consent: a level, purposes and, optionally, when it ends by itself."""
    return _ref(
        services.custos.registry.grant(_client_id(me), body.level, body.purposes, body.expires_at)
    )


@router.patch("/consent", response_model=LedgerRef, responses=_ERRORS)
def change(body: ConsentChange, me: ClientCaller, services: ServicesDep) -> LedgerRef:
    """Upgrade or downgrade the level, switch purposes on and off, or set a new end date
    (``no_expiry`` for none); each is its own ledger entry."""
    registry, cid = services.custos.registry, _client_id(me)
    new_term = body.expires_at is not None or body.no_expiry
    if body.level is None and body.purposes is None and not new_term:
        raise InvalidRequest("give a new level, purposes or end date", field="level")
    if body.expires_at is not None and body.no_expiry:
        raise InvalidRequest("give an end date or no_expiry, not both", field="expires_at")
    recorded = None
    current = registry.current(cid)
    if body.level is not None and (current is None or current.level != body.level):
        recorded = registry.change_level(cid, body.level, body.expires_at)
        new_term = False
    if body.purposes is not None:
        current = registry.current(cid)
        if current is None or set(body.purposes) != set(current.purposes):
            recorded = registry.set_purposes(cid, body.purposes)
    if new_term:
        recorded = registry.renew(cid, body.expires_at)
    if recorded is None:
        raise InvalidRequest("nothing to change: the consent already says this", field="level")
    return _ref(recorded)


@router.post("/consent/revoke", response_model=LedgerRef, responses=_ERRORS)
def revoke(body: ConsentRevoke, me: ClientCaller, services: ServicesDep) -> LedgerRef:
    """Withdraw the whole consent, or only some purposes; effective for the next decision."""
    return _ref(services.custos.registry.revoke(_client_id(me), body.purposes))


@router.get("/trail", response_model=TrailPage, responses=_ERRORS)
def trail(
    me: ClientCaller,
    services: ServicesDep,
    department: str | None = Query(default=None, pattern=r"^[a-z_]{1,32}$"),
    purpose: str | None = Query(default=None, pattern=r"^[a-z_]{1,32}$"),
    category: str | None = Query(default=None, pattern=r"^[a-z][a-z0-9_.]{0,63}$"),
    outcome: str | None = Query(default=None, pattern=r"^(allow|deny|not_applicable)$"),
    after: int = Query(default=-1, ge=-1, le=MAX_INDEX),
    limit: int = Query(default=50, ge=1, le=500),
) -> TrailPage:
    """Who used my data: every ledger entry about me, newest filters applied."""
    items = services.audit.query(
        TrailQuery(
            subject=_client_id(me),
            department=department,
            purpose=purpose,
            category=category,
            outcome=outcome,
            after=after,
            limit=limit,
        ).check(services.custos.catalogue, services.accounts.departments)
    )
    return page(items, limit)


def page(items: list[Any], limit: int) -> TrailPage:
    return TrailPage(
        items=[TrailItem(**vars(i)) for i in items],
        next_after=items[-1].index if len(items) == limit else None,
    )


@router.get("/receipt", responses=_ERRORS)
def receipt(
    me: ClientCaller,
    services: ServicesDep,
    lang: str = Query(default="en", pattern=r"^(en|zh)$"),
) -> dict[str, Any]:
    """A signed consent receipt (Kantara Consent Receipt v1.1 fields, Ed25519 signature)."""
    cid = _client_id(me)
    consent = services.custos.registry.current(cid)
    if consent is None or not consent.is_active(services.clock()):
        raise ConsentNotFound("there is no active consent to give a receipt for")
    # The entry that made the consent what it is now: the receipt points auditors at it.
    index = services.audit.latest_index(cid, "consent_") or 0

    return build_receipt(
        services.custos.catalogue,
        consent,
        index,
        services.custos.ledger.signer,
        services.clock(),
        lang,
    )


@router.post("/erasure", response_model=LedgerRef, responses=_ERRORS)
def erase(me: ClientCaller, services: ServicesDep) -> LedgerRef:
    """Erase me: my key and values are destroyed; the ledger keeps its pseudonymous entries."""
    cid = _client_id(me)
    appended = services.custos.registry.erase(cid)
    services.accounts.revoke_client(cid, services.clock())
    return LedgerRef(ledger_index=appended.index, timestamp=appended.timestamp)
