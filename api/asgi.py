"""Reading a request body inside ASGI middleware, and handing it on to the app unchanged."""

from __future__ import annotations

from starlette.types import Message, Receive

__all__ = ["BodyTooLarge", "read_body", "replay"]


class BodyTooLarge(Exception):
    """The body grew past the limit its reader set; reading stopped there."""


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands the already-read body to the app, then the real one's
    later messages (a client disconnect, say)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
