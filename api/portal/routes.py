"""The portal's pages. Every page takes the client id from the session, never from the URL
or a form, so editing either can only ever show the signed-in client their own data."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.portal.consent_forms import (
    ConsentForm,
    PartlyApplied,
    Plan,
    consent_page_context,
    make_plan,
)
from api.portal.i18n import MESSAGES, localized, translator
from api.portal.sessions import PortalSession
from api.portal.trail import TrailFilters, trail_csv, trail_export, trail_rows
from api.portal.web import (
    LANG_COOKIE,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    Portal,
    PortalDep,
    SessionDep,
    SignInRequired,
    error_page,
    language,
    render,
    safe_next,
    set_cookie,
)
from api.problems import PROBLEM_TYPES, problem_response
from api.routes import me as me_api
from api.schemas import MAX_INDEX
from consent_ledger.catalogue import Catalogue
from consent_ledger.encoding import decode_entry
from consent_ledger.errors import ConsentNotFound, Unauthenticated
from custos_errors import CustosError

__all__ = ["PortalRoute", "router"]

log = structlog.get_logger(__name__)

# Routes that answer scripts (the in-browser check) keep the API's JSON problems.
_JSON_ROUTES = ("/portal/proof/",)


def _status_of(exc: Exception) -> tuple[int, dict[str, str] | None]:
    """The HTTP status an exception stands for, as the API's problem map gives it."""
    if isinstance(exc, RequestValidationError):
        return 400, None
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, getattr(exc, "headers", None)
    if isinstance(exc, CustosError):
        return PROBLEM_TYPES.get(exc.code, PROBLEM_TYPES["custos_error"])[0], None
    return 500, None


class PortalRoute(APIRoute):
    """A portal page: whatever it fails with is answered with an HTML page in the
    visitor's language (the middleware adds the portal's security headers), never with the
    API's English JSON problem. Only 'sign in first' passes through, to its redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.path.startswith(_JSON_ROUTES):
            return handler

        async def page_or_error_page(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes a page
                status, headers = _status_of(exc)
                if status >= 500:
                    # The type only: an exception's text may hold a value from the request.
                    log.error("portal_error", path=request.url.path, error=type(exc).__name__)
                return error_page(request, request.app.state.portal, status, headers=headers)

        return page_or_error_page


class _PagePath(Convertor[str]):
    """Any path under /portal/ except the static files, which their own mount serves."""

    regex = r"(?!static(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("custos_portal_page", _PagePath())

router = APIRouter(prefix="/portal", include_in_schema=False, route_class=PortalRoute)


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
    admission = portal.limiter.admit(username, address)
    if admission.wait:
        response = _sign_in_page(
            request,
            portal,
            status=429,
            error="signin_limited",
            seconds=admission.wait,
            username=username,
        )
        response.headers["Retry-After"] = str(admission.wait)
        return response
    try:
        principal = portal.services.accounts.check_password(username, password)
    except Unauthenticated:
        # The attempt was counted by admit(): it stays, as a failure.
        return _sign_in_page(request, portal, status=401, error="signin_failed", username=username)
    portal.limiter.succeeded(admission, username, address)
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
    done: Annotated[list[int], Query(max_length=8)] = [],  # noqa: B006 - FastAPI copies it
    error: str | None = None,
) -> HTMLResponse:
    lang = language(request)
    context = consent_page_context(portal.services, session.client_id, lang)
    return render(
        request,
        portal,
        "consent.html",
        done=_done_message(portal, session.client_id, done, lang),
        error=("done_partly" if done else "conflict") if error else None,
        **context,
    )


def _done_message(portal: Portal, client_id: str, indices: list[int], lang: str) -> str | None:
    """'Recorded as entry #1670 (Consent upgraded) and #1671 (Uses changed)': every entry
    a confirm wrote, each with what it is. Only the client's own entries are named, so an
    edited URL cannot make the page describe another client's."""
    ledger = portal.services.custos.ledger
    t = translator(lang)
    named = []
    for index in sorted(set(indices)):
        stored = next(iter(ledger.entries(index, index + 1)), None) if index <= MAX_INDEX else None
        if stored is None:
            continue
        entry = decode_entry(stored.leaf)
        if entry.subject != client_id:
            continue
        key = f"ev_{entry.type}"
        event = t(key) if key in MESSAGES else entry.type
        named.append(t("done_entry", index=index, event=event))
    if not named:
        return None
    entries = t("done_and").join(named)
    if len(named) == 1:
        return t("done_one", entries=entries)
    return t("done_many", n=len(named), entries=entries)


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
        written = plan.apply(portal.services, session.client_id)
    except PartlyApplied as partly:
        query = urlencode([("done", i) for i in partly.written] + [("error", "conflict")])
        return RedirectResponse(f"/portal/consent?{query}", status_code=303)
    except CustosError:
        return RedirectResponse("/portal/consent?error=conflict", status_code=303)
    query = urlencode([("done", i) for i in written])
    return RedirectResponse(f"/portal/consent?{query}", status_code=303)


# -- who used my data ------------------------------------------------------------------


def _trail_filters(
    portal: PortalDep,
    department: str = "",
    purpose: str = "",
    category: str = "",
    outcome: str = "",
) -> TrailFilters:
    """The trail's filters from the query, known values only (the page and both downloads)."""
    return TrailFilters.clean(portal.services, department, purpose, category, outcome)


FiltersDep = Annotated[TrailFilters, Depends(_trail_filters)]


@router.get("/trail")
def trail_page(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    filters: FiltersDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    services = portal.services
    view = trail_rows(services, session.client_id, filters, page, language(request))
    return render(
        request,
        portal,
        "trail.html",
        filters=filters,
        view=view,
        options=filters.options(services, language(request)),
        verifier_key=services.custos.ledger.signer.verifier_key(),
        download_csv=filters.link(1, "/portal/trail.csv"),
        download_json=filters.link(1, "/portal/trail.json"),
    )


def _download_headers(name: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{name}"',
        # Another site may link to a download (the browser then saves the client's own
        # trail for the client) but never embed or read it.
        "Cross-Origin-Resource-Policy": "same-origin",
    }


def _export(
    request: Request, portal: Portal, session: PortalSession, filters: TrailFilters
) -> tuple[dict[str, Any], str]:
    services = portal.services
    export = trail_export(services, session.client_id, filters, language(request))
    day = services.clock().strftime("%Y-%m-%d")
    return export, f"custos-trail-{day}"


@router.get("/trail.json")
def trail_json(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    filters: FiltersDep,
) -> Response:
    """The filtered trail with each entry's bytes and inclusion proof, and the signed
    checkpoint they lead to. A GET that changes nothing the client owns, so it needs no
    CSRF token; the cookie is SameSite=Lax and the answer cannot be read cross-site."""
    export, name = _export(request, portal, session, filters)
    return JSONResponse(export, headers=_download_headers(f"{name}.json"))


@router.get("/trail.csv")
def trail_csv_download(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    filters: FiltersDep,
) -> Response:
    """The same rows as a spreadsheet; every cell is safe against formula injection."""
    export, name = _export(request, portal, session, filters)
    return Response(
        trail_csv(export),
        media_type="text/csv; charset=utf-8",
        headers=_download_headers(f"{name}.csv"),
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


# -- anything else under /portal -------------------------------------------------------

_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.api_route("/{rest:custos_portal_page}", methods=_ANY_METHOD)
def not_a_page(request: Request, portal: PortalDep, rest: str) -> Response:
    """No portal page at this path (or not for this method): a 404 or 405 page in the
    visitor's language rather than the API's JSON. Registered last, so every real page
    matches first; static files are left to their own mount."""
    if not rest:
        return RedirectResponse("/portal/consent", status_code=303)
    allowed: set[str] = set()
    for route in router.routes:
        if isinstance(route, APIRoute) and route.endpoint is not not_a_page:
            match, _ = route.matches(request.scope)
            if match == Match.PARTIAL:
                allowed |= route.methods or set()
    if allowed:
        return error_page(request, portal, 405, headers={"Allow": ", ".join(sorted(allowed))})
    return error_page(request, portal, 404)
