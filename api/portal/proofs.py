"""The client's pending proof requests: who asks, which fact, for what; approve or decline.

A department that needs a fact about the client (a proof rule of the policy) gets a proof
request instead of the value. Here the client sees each one in plain words — the department,
the fact in the catalogue's name for the data and the predicate's public numbers, the
purpose — and never the value itself. Approving has privacy/zk produce the proof on the
client's behalf, only if their consent covers the purpose and the data's level; declining
ends the request. Like every portal page, the client id comes from the session only: a
request id of another client reads as unknown.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.portal.i18n import MESSAGES, localized, translator
from api.portal.routes import PortalRoute
from api.portal.web import Portal, PortalDep, SessionDep, language, render
from custos_errors import CustosError
from policies.proof_requests import ProofRequest, ProofRequestNotUsable, UnknownProofRequest
from privacy.zk.errors import PredicateFalse
from privacy.zk.flow_errors import AttestationMissing, ConsentNotCovering

__all__ = ["router"]

router = APIRouter(prefix="/portal", include_in_schema=False, route_class=PortalRoute)

_REQUEST_ID = r"^pr_[0-9a-f]{24}$"


def _fact(portal: Portal, request: ProofRequest, lang: str) -> str:
    """The predicate in words, over the catalogue's name for the data (public numbers only)."""
    t = translator(lang)
    cat = portal.services.custos.catalogue.category(request.category)
    data = localized(cat.name, lang)
    p = request.predicate
    kind = p["type"]
    if kind in ("at_least", "at_most"):
        return t(f"proof_fact_{kind}", data=data, n=f"{p['threshold']:,}")
    if kind == "between":
        return t("proof_fact_between", data=data, low=f"{p['low']:,}", high=f"{p['high']:,}")
    if kind == "equals":
        return t("proof_fact_equals", data=data, n=f"{p['value']:,}")
    if kind == "one_of":
        return t("proof_fact_one_of", data=data, values=", ".join(f"{v:,}" for v in p["values"]))
    return t("proof_fact_age_at_least", data=data, years=p["years"])


def _rows(portal: Portal, requests: list[ProofRequest], lang: str) -> list[dict[str, Any]]:
    catalogue = portal.services.custos.catalogue
    t = translator(lang)
    return [
        {
            "request_id": r.request_id,
            # A department the messages do not name shows by its policy name.
            "department": t(f"dept_{r.department}")
            if f"dept_{r.department}" in MESSAGES
            else r.department,
            "fact": _fact(portal, r, lang),
            "purpose": localized(catalogue.purpose(r.purpose).name, lang),
            "expires_at": r.expires_at,
        }
        for r in requests
    ]


# What a redirect after an answer may ask the page to say (message keys, nothing else).
_DONE = {"approved": "proof_approved", "declined": "proof_declined"}
_ERRORS = {
    "not_true": ("proof_not_true", 409),
    "not_consented": ("proof_not_consented", 403),
    "unavailable": ("proof_unavailable", 409),
    "unknown": ("proof_unknown", 404),
}


def _answered(query: str) -> RedirectResponse:
    # Post/redirect/get: a reload of the page never answers a request twice.
    return RedirectResponse(f"/portal/proofs?{query}", status_code=303)


@router.get("/proofs")
def proofs_page(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    done: Annotated[str | None, Query(max_length=16)] = None,
    error: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    lang = language(request)
    failed = _ERRORS.get(error or "")
    return render(
        request,
        portal,
        "proofs.html",
        status=200 if failed is None else failed[1],
        requests=_rows(portal, portal.services.zk.pending(session.client_id), lang),
        done=_DONE.get(done or ""),
        error=None if failed is None else failed[0],
    )


# What each refusal of an answer shows (an _ERRORS key). Declining can only meet the last two.
_REFUSALS: tuple[tuple[type[CustosError], str], ...] = (
    (PredicateFalse, "not_true"),
    (ConsentNotCovering, "not_consented"),
    (AttestationMissing, "unavailable"),
    (ProofRequestNotUsable, "unavailable"),
    (UnknownProofRequest, "unknown"),
)


@router.post("/proofs/{request_id}/{answer}")
def answer(
    portal: PortalDep,
    session: SessionDep,
    request_id: str = Path(pattern=_REQUEST_ID),
    answer: str = Path(pattern="^(approve|decline)$"),
) -> RedirectResponse:
    """Approve (the proof is produced now) or decline a pending request of the client's."""
    zk = portal.services.zk
    approving = answer == "approve"
    act = zk.approve if approving else zk.decline
    try:
        act(session.client_id, request_id)
    except CustosError as exc:
        code = next((code for kind, code in _REFUSALS if isinstance(exc, kind)), None)
        if code is None:
            raise
        return _answered(f"error={code}")
    return _answered("done=approved" if approving else "done=declined")
