"""The front door: checks every request passes before anything reads it.

- A request is authenticated by exactly one means. An ``Authorization`` header that is not
  a well-formed ``Bearer <key>`` is refused with 401 at once (it used to fall through to the
  session cookie, skipping the cookie's CSRF check); with a bearer key the cookie is ignored.
- Bodies are limited (``CUSTOS_API_MAX_BODY_BYTES``): a declared length over the limit is
  refused before reading, a chunked body once it grows past it, both with 413.
- JSON endpoints take JSON: a body sent as another media type gets 415.
- In production every response carries ``Strict-Transport-Security``.

A plain ASGI callable, like the other front layers, so the decision path pays a few dict
lookups for it and nothing more.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import BodyTooLarge, read_body, replay
from api.problems import problem_response

__all__ = ["RequestGuard", "is_portal_path"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def is_portal_path(path: str) -> bool:
    return path == "/" or path == "/portal" or path.startswith("/portal/")


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by name, in one pass; the first of repeated ones wins, as
    Starlette's Headers.get does for the routes."""
    found: dict[bytes, bytes] = {}
    for key, value in scope["headers"]:
        found.setdefault(key, bytes(value))
    return found


def _bearer_is_well_formed(authorization: bytes) -> bool:
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip()) and " " not in token.strip()


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, production: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.production:
            send = self._with_hsts(send)
        path: str = scope["path"]
        headers = _headers(scope)
        refused = self._refusal(scope, headers, path)
        if refused is not None:
            await refused(scope, receive, send)
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        await self._limited(scope, headers, receive, send, path)

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes], path: str) -> ASGIApp | None:
        portal = is_portal_path(path)
        authorization = headers.get(b"authorization")
        if authorization is not None and not portal and not _bearer_is_well_formed(authorization):
            return problem_response(
                "unauthenticated",
                "send exactly one credential: 'Authorization: Bearer <key>', or the portal "
                "session cookie with its X-CSRF-Token and no Authorization header",
                instance=path,
                headers={"WWW-Authenticate": "Bearer"},
            )
        if scope["method"] not in _BODY_METHODS:
            return None
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            return self._too_large(path)
        content_type = headers.get(b"content-type")
        declares_body = (length is not None and length != b"0") or (b"transfer-encoding" in headers)
        if (
            not portal
            and path.startswith("/v1/")
            and declares_body
            and (content_type is None or not _is_json(content_type))
        ):
            return problem_response(
                "unsupported_media_type",
                "send the body as JSON with 'Content-Type: application/json'",
                instance=path,
            )
        return None

    def _too_large(self, path: str) -> ASGIApp:
        return problem_response(
            "payload_too_large",
            f"the request body is over the limit of {self.max_body_bytes} bytes",
            instance=path,
        )

    async def _limited(
        self, scope: Scope, headers: dict[bytes, bytes], receive: Receive, send: Send, path: str
    ) -> None:
        """A body with a declared length is framed by the server to that length, which is
        within the limit; a chunked one is read here, up to the limit, and handed on."""
        if b"content-length" in headers:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self.max_body_bytes)
        except BodyTooLarge:
            await self._too_large(path)(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)

    @staticmethod
    def _with_hsts(send: Send) -> Send:
        async def hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == _HSTS[0] for k, _ in headers):
                    headers.append(_HSTS)
                message = {**message, "headers": headers}
            await send(message)

        return hsts
