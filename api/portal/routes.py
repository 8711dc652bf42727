"""The portal's pages. Every page takes the client id from the session, never from the URL
or a form, so editing either can only ever show the signed-in client their own data."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api.portal.consent_forms import ConsentForm, Plan, consent_page_context, make_plan
from api.portal.i18n import localized, translator
from api.portal.sessions import PortalSession
from api.portal.trail import TrailFilters, trail_rows
from api.portal.web import (
    LANG_COOKIE,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    Portal,
    PortalDep,
    SessionDep,
    language,
    render,
    safe_next,
    set_cookie,
)
from api.problems import problem_response
from api.routes import me as me_api
from api.schemas import MAX_INDEX
from consent_ledger.catalogue import Catalogue
from consent_ledger.encoding import decode_entry
from consent_ledger.errors import ConsentNotFound, Unauthenticated
from custos_errors import CustosError

__all__ = ["router"]

router = APIRouter(prefix="/portal", include_in_schema=False)


# -- signing in and out ----------------------------------------------------------------


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/portal/consent", status_code=303)


def _sign_in_page(
    request: Request, portal: Portal, *, status: int = 200, **context: Any
) -> HTMLResponse:
    token = request.cookies.get(PRESESSION_COOKIE) or ""
    if not (20 <= len(token) <= 64):
        token = secrets.token_urlsafe(32)
    context.setdefault("error", None)
    context.setdefault("notice", None)
    context.setdefault("username", "")
    response = render(
        request,
        portal,
        "sign_in.html",
        status=status,
        csrf=token,
        next=safe_next(request.query_params.get("next") or context.pop("next", None)),
        **context,
    )
    set_cookie(response, portal, PRESESSION_COOKIE, token, path="/portal/sign-in")
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, portal: PortalDep, signed_out: bool = False) -> Response:
    if request.state.portal_session is not None and not signed_out:
        return RedirectResponse("/portal/consent", status_code=303)
    notice = (
        "signed_out" if signed_out else ("signin_again" if "next" in request.query_params else None)
    )
    return _sign_in_page(request, portal, notice=notice)


@router.post("/sign-in")
def sign_in(
    request: Request,
    portal: PortalDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    address = request.client.host if request.client else "unknown"
    if not username.strip() or not password:
        return _sign_in_page(request, portal, status=400, error="signin_missing", username=username)
    wait = portal.limiter.retry_after(username, address)
    if wait:
        response = _sign_in_page(
            request, portal, status=429, error="signin_limited", seconds=wait, username=username
        )
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        principal = portal.services.accounts.check_password(username, password)
    except Unauthenticated:
        portal.limiter.record_failure(username, address)
        return _sign_in_page(request, portal, status=401, error="signin_failed", username=username)
    portal.limiter.forget_user(username, address)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        portal.sessions.end(old)
    token, _ = portal.sessions.create(principal)
    redirect = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(redirect, portal, SESSION_COOKIE, token, path="/")
    redirect.delete_cookie(PRESESSION_COOKIE, path="/portal/sign-in")
    return redirect


@router.post("/sign-out")
def sign_out(request: Request, portal: PortalDep) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        portal.sessions.end(token)
    response = RedirectResponse("/portal/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(
    code: Annotated[str, Path(pattern=r"^(en|zh)$")],
    portal: PortalDep,
    next: str = "",
) -> RedirectResponse:
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, portal, LANG_COOKIE, code, path="/", max_age=365 * 24 * 3600)
    return response


# -- consent ---------------------------------------------------------------------------


@router.get("/consent")
def consent_page(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    done: Annotated[int | None, Query(ge=0, le=MAX_INDEX)] = None,
    error: str | None = None,
) -> HTMLResponse:
    context = consent_page_context(portal.services, session.client_id, language(request))
    return render(
        request,
        portal,
        "consent.html",
        done=done,
        error="conflict" if error else None,
        **context,
    )


def _consent_form(
    level: int | None, purpose: list[str], duration: str, withdraw: str
) -> ConsentForm:
    return ConsentForm(level, tuple(purpose), duration, withdraw == "all")


@router.get("/consent/review")
def review_page(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
    purpose: Annotated[list[str], Query(max_length=16)] = [],  # noqa: B006 - FastAPI copies it
    duration: Annotated[str, Query(max_length=8)] = "keep",
    withdraw: Annotated[str, Query(max_length=8)] = "",
) -> HTMLResponse:
    form = _consent_form(level, purpose, duration, withdraw)
    plan = make_plan(portal.services, session.client_id, form, language(request))
    return render(request, portal, "review.html", plan=plan, form=form)


@router.post("/consent")
def apply_change(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    level: Annotated[int | None, Form(ge=1, le=4)] = None,
    purpose: Annotated[list[str], Form(max_length=16)] = [],  # noqa: B006 - FastAPI copies it
    duration: Annotated[str, Form(max_length=8)] = "keep",
    withdraw: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    form = _consent_form(level, purpose, duration, withdraw)
    # The plan is made again from the state now: the review page may be minutes old.
    plan: Plan = make_plan(portal.services, session.client_id, form, language(request))
    if plan.problems:
        return render(request, portal, "review.html", status=409, plan=plan, form=form)
    try:
        index = plan.apply(portal.services, session.client_id)
    except CustosError:
        return RedirectResponse("/portal/consent?error=conflict", status_code=303)
    return RedirectResponse(f"/portal/consent?done={index}", status_code=303)


# -- who used my data ------------------------------------------------------------------


@router.get("/trail")
def trail_page(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    department: str = "",
    purpose: str = "",
    category: str = "",
    outcome: str = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    services = portal.services
    filters = TrailFilters.clean(services, department, purpose, category, outcome)
    view = trail_rows(services, session.client_id, filters, page, language(request))
    return render(
        request,
        portal,
        "trail.html",
        filters=filters,
        view=view,
        options=filters.options(services, language(request)),
        verifier_key=services.custos.ledger.signer.verifier_key(),
    )


@router.get("/proof/{index}")
def proof(
    portal: PortalDep,
    session: SessionDep,
    index: Annotated[int, Path(ge=0, le=MAX_INDEX)],
) -> Response:
    """What the browser needs to check an entry itself: its bytes, its inclusion proof and the
    signed checkpoint the proof leads to. Only for the signed-in client's own entries."""
    ledger = portal.services.custos.ledger
    stored = next(iter(ledger.entries(index, index + 1)), None)
    if stored is None or decode_entry(stored.leaf).subject != session.client_id:
        # The same answer for "not yours" and "no such entry": neither says which.
        return problem_response("not_found", f"you have no ledger entry {index}")
    latest = ledger.latest_checkpoint()
    note = latest[1] if latest is not None and latest[0] > index else ledger.checkpoint()
    size = int(note.split("\n")[1])
    return JSONResponse(
        {
            "index": index,
            "entry": base64.b64encode(stored.leaf).decode(),
            "proof": ledger.inclusion_proof(index, size).as_json(),
            "checkpoint": note,
            "verifier_key": ledger.signer.verifier_key(),
        }
    )


# -- receipt ---------------------------------------------------------------------------


def _receipt(portal: Portal, session: PortalSession, lang: str) -> dict[str, Any] | None:
    try:
        return me_api.receipt(session.principal, portal.services, lang)
    except ConsentNotFound:
        return None


def _data_groups(catalogue: Catalogue, keys: list[str], lang: str) -> list[dict[str, Any]]:
    """Category keys as words, grouped by level, leaving out parents whose children are
    listed too (so 'Contact details' does not repeat 'Email address')."""
    t = translator(lang)
    chosen = set(keys)
    groups = []
    for lv in sorted(catalogue.levels, key=lambda lv: lv.level):
        names = [
            localized(c.name, lang)
            for c in catalogue.categories
            if c.level == lv.level
            and c.key in chosen
            and not any(k.startswith(c.key + ".") for k in chosen)
        ]
        if names:
            label = t("level_n", n=lv.level) + " · " + localized(lv.name, lang)
            groups.append({"label": label, "names": names})
    return groups


@router.get("/receipt")
def receipt_page(request: Request, portal: PortalDep, session: SessionDep) -> HTMLResponse:
    lang = language(request)
    receipt = _receipt(portal, session, lang)
    if receipt is None:
        return render(request, portal, "receipt.html", receipt=None)
    catalogue = portal.services.custos.catalogue
    purposes = [p for service in receipt["services"] for p in service["purposes"]]
    covered = [sorted(p["piiCategory"]) for p in purposes]
    consent = portal.services.custos.registry.current(session.client_id)
    level = catalogue.level(receipt["authorizationLevel"])
    return render(
        request,
        portal,
        "receipt.html",
        receipt=receipt,
        # "<" escaped so the JSON can sit in a <script> data block without ending it.
        embedded=json.dumps(receipt, ensure_ascii=False).replace("<", "\\u003c"),
        purposes=[
            {**p, "groups": _data_groups(catalogue, p["piiCategory"], lang)} for p in purposes
        ],
        # Usually every purpose covers the same data: then it is shown once, not per purpose.
        shared_groups=(
            _data_groups(catalogue, covered[0], lang)
            if covered and all(c == covered[0] for c in covered)
            else None
        ),
        level_name=localized(level.name, lang),
        consented_at=consent.granted_at if consent else None,
        ends=consent.expires_at if consent else None,
    )


@router.get("/receipt.json")
def receipt_download(request: Request, portal: PortalDep, session: SessionDep) -> Response:
    receipt = _receipt(portal, session, language(request))
    if receipt is None:
        return problem_response(
            "consent_not_found", "there is no active consent to give a receipt for"
        )
    day = receipt["issuedAt"][:10]
    return JSONResponse(
        receipt,
        headers={
            "Content-Disposition": f'attachment; filename="custos-consent-receipt-{day}.json"'
        },
    )


# -- erasure ---------------------------------------------------------------------------


@router.get("/erasure")
def erasure_page(request: Request, portal: PortalDep, session: SessionDep) -> HTMLResponse:
    return render(request, portal, "erasure.html", error=None)


@router.post("/erasure")
def erase(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    understand: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    if understand != "yes":
        return render(request, portal, "erasure.html", status=400, error="erasure_tick")
    services = portal.services
    appended = services.custos.registry.erase(session.client_id)
    services.accounts.revoke_client(session.client_id, services.clock())
    portal.sessions.end_all_for_client(session.client_id)
    request.state.portal_session = None
    response = render(request, portal, "erased.html", index=appended.index)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
