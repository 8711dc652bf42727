"""What every portal page shares: the portal's state, the session dependency, the
language, and rendering a template with the frame's context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from api.portal.i18n import format_time, negotiate, translator
from api.portal.sessions import PortalSession, SessionStore, SignInLimiter
from api.state import Services

__all__ = [
    "ERROR_PAGES",
    "LANG_COOKIE",
    "PRESESSION_COOKIE",
    "SESSION_COOKIE",
    "Portal",
    "PortalDep",
    "SessionDep",
    "SignInRequired",
    "csrf_refused_page",
    "error_page",
    "language",
    "render",
    "safe_next",
    "set_cookie",
]

SESSION_COOKIE = "custos_session"
PRESESSION_COOKIE = "custos_signin"
LANG_COOKIE = "custos_lang"


@dataclass
class Portal:
    """What the pages share, built once by install_portal and kept on app.state."""

    services: Services
    sessions: SessionStore
    limiter: SignInLimiter
    templates: jinja2.Environment
    secure_cookies: bool


class SignInRequired(Exception):
    """Raised by pages that need a session; answered with a redirect to the sign-in page."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.location = "/portal/sign-in?next=" + quote(back_to, safe="/")


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def _session(request: Request) -> PortalSession:
    session = getattr(request.state, "portal_session", None)
    if not isinstance(session, PortalSession):
        url = request.url
        back = url.path + ("?" + url.query if url.query else "")
        if request.method != "GET":
            back = "/portal/consent"
        raise SignInRequired(back)
    return session


PortalDep = Annotated[Portal, Depends(_portal)]
SessionDep = Annotated[PortalSession, Depends(_session)]


def language(request: Request) -> str:
    return negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def render(
    request: Request,
    portal: Portal,
    template: str,
    *,
    status: int = 200,
    csrf: str | None = None,
    **context: Any,
) -> HTMLResponse:
    lang = language(request)
    session = getattr(request.state, "portal_session", None)
    html = portal.templates.get_template(template).render(
        t=translator(lang),
        lang=lang,
        when=lambda value: format_time(value, lang),
        session=session,
        csrf=csrf if csrf is not None else (session.csrf_token if session else ""),
        path=request.url.path,
        query=request.url.query,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def csrf_refused_page(request: Request, portal: Portal) -> Response:
    return render(request, portal, "csrf.html", status=403)


# The statuses that have a page of their own (messages ``error_<status>_title`` and
# ``error_<status>_body``); any other 4xx reads as 400 and any other 5xx as 500.
ERROR_PAGES = (400, 403, 404, 405, 409, 413, 429, 500)


def error_page(
    request: Request,
    portal: Portal,
    status: int,
    *,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """An error as a page in the visitor's language, never as the API's JSON problem: it
    says what happened and where to go next, and nothing of the internals."""
    shown = status if status in ERROR_PAGES else (500 if status >= 500 else 400)
    response = render(request, portal, "error.html", status=status, error_status=shown)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def safe_next(target: str | None) -> str:
    """Only a path inside the portal: anything else could send the client to another site."""
    if not target or not target.startswith("/portal/") or target.startswith("/portal/static"):
        return "/portal/consent"
    # "//" and "\\" could turn into another host in some browsers; CR/LF could split headers.
    if any(bad in target for bad in ("//", "\\", "\r", "\n")):
        return "/portal/consent"
    return target


def set_cookie(response: Response, portal: Portal, name: str, value: str, **kw: Any) -> None:
    response.set_cookie(
        name, value, httponly=True, secure=portal.secure_cookies, samesite="lax", **kw
    )
