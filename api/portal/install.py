"""Wires the portal into the API app: its routes, static files, and the session middleware.

The middleware runs before every request, portal or API. It turns the session cookie into
``request.state.session_principal`` (which ``api.deps.current_principal`` accepts for the
client's own ``/v1/me`` endpoints) and refuses any state-changing request that rides on the
cookie without the session's CSRF token: a form field or header for the portal, the
``X-CSRF-Token`` header for the JSON API.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import BodyTooLarge, read_body, replay
from api.guard import is_portal_path
from api.portal.proofs import router as proofs_router
from api.portal.routes import router
from api.portal.sessions import SessionStore, SignInLimiter, tokens_match
from api.portal.web import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    Portal,
    SignInRequired,
    csrf_refused_page,
)
from api.problems import problem_response
from api.state import Services

__all__ = ["SECURITY_HEADERS", "install_portal"]

_HERE = Path(__file__).resolve().parent
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Portal forms are a few short fields; anything bigger is not one of ours.
_MAX_FORM_BYTES = 64 * 1024

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class PortalMiddleware:
    def __init__(self, app: ASGIApp, portal: Portal) -> None:
        self.app = app
        self.portal = portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path: str = scope["path"]
        portal_path = is_portal_path(path)
        token = request.cookies.get(SESSION_COOKIE)
        # A request with an Authorization header authenticates by it alone (api/guard.py has
        # refused any that is not a bearer key): the cookie is not consulted at all.
        if not portal_path and "authorization" in request.headers:
            token = None
        session = await run_in_threadpool(self.portal.sessions.lookup, token) if token else None
        request.state.portal_session = session
        request.state.session_principal = session.principal if session is not None else None

        if scope["method"] not in _SAFE_METHODS:
            if portal_path:
                refused, receive = await self._check_form(request, receive)
            else:
                refused = self._check_api(request)
            if refused is not None:
                await self._send(refused, portal_path, path, scope, receive, send)
                return
        await self._send(self.app, portal_path, path, scope, receive, send)

    async def _check_form(
        self, request: Request, receive: Receive
    ) -> tuple[Response | None, Receive]:
        """Portal POSTs: the form's csrf_token (or the header) must match the session's, or,
        for the sign-in form, the pre-session cookie's."""
        try:
            body = await read_body(receive, _MAX_FORM_BYTES)
        except BodyTooLarge:
            return Response("form too large", status_code=413), receive
        replayed = replay(body, receive)
        fields = parse_qs(body.decode("latin-1"), max_num_fields=64)
        given = request.headers.get("x-csrf-token") or next(
            iter(fields.get("csrf_token", [])), None
        )
        session = request.state.portal_session
        if request.url.path == "/portal/sign-in":
            expected = request.cookies.get(PRESESSION_COOKIE)
        elif session is not None:
            expected = session.csrf_token
        else:
            # No session: the route itself sends the visitor to sign in; nothing can change.
            return None, replayed
        if expected is None or not tokens_match(expected, given):
            return csrf_refused_page(request, self.portal), replayed
        return None, replayed

    def _check_api(self, request: Request) -> Response | None:
        """JSON calls that authenticate with the cookie (not a bearer key) need the header."""
        session = request.state.portal_session
        if session is None:
            return None
        if tokens_match(session.csrf_token, request.headers.get("x-csrf-token")):
            return None
        return problem_response(
            "forbidden",
            "a request signed in with the portal cookie must send the session's X-CSRF-Token",
            instance=request.url.path,
        )

    async def _send(
        self, app: ASGIApp, portal_path: bool, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if not portal_path:
            await app(scope, receive, send)
            return
        private = not path.startswith("/portal/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = dict(SECURITY_HEADERS)
                if private:
                    # Pages show personal choices: no shared cache or back-button copy keeps them.
                    extra["Cache-Control"] = "no-store"
                for name, value in extra.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, with_headers)


def install_portal(app: FastAPI) -> None:
    """Mount the portal at /portal (and / as a redirect to it) on an app built by create_app."""
    services: Services = app.state.services
    settings = services.settings
    portal = Portal(
        services=services,
        sessions=SessionStore(services.custos.db, services.clock),
        limiter=SignInLimiter(
            services.custos.db,
            services.clock,
            settings.session_secret,
            settings.sign_in_attempts_per_minute,
        ),
        templates=jinja2.Environment(
            loader=jinja2.FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        ),
        secure_cookies=settings.environment == "production",
    )
    app.state.portal = portal
    # Before the main router: its last route answers every other /portal/ path.
    app.include_router(proofs_router)
    app.include_router(router)
    app.mount("/portal/static", StaticFiles(directory=_HERE / "static"), name="portal-static")

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return RedirectResponse(exc.location, status_code=303)

    app.add_exception_handler(SignInRequired, sign_in_required)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/portal", status_code=307)

    app.add_middleware(PortalMiddleware, portal=portal)
