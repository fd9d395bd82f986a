"""An ASGI guard that refuses oversized request bodies before Django spools them.

Django's ASGI handler reads the whole body before any middleware runs, so the size check has to
sit in front of it: a declared Content-Length over the limit is answered 413 at once, and a body
that streams past the limit (chunked, no length) is cut off and answered 413 too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]  # as Django's ASGIHandler declares it
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodySizeLimit:
    def __init__(self, app: ASGIApp, limit: Callable[[Scope], Awaitable[int]]) -> None:
        self.app = app
        self.limit = limit  # asked per request: it depends on the path and user, and on settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = await self.limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, declared, limit)
            return
        seen = 0
        overflow = False

        async def limited_receive() -> Message:
            nonlocal seen, overflow
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    overflow = True
                    return {"type": "http.disconnect"}  # Django stops reading and sends nothing
            return message

        await self.app(scope, limited_receive, send)
        if overflow:
            await _too_large(send, None, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, length: int | None, limit: int) -> None:
    from django.template.loader import render_to_string

    from .middleware import too_large_message

    context = {"title": "Upload too large", "message": too_large_message(length, limit)}
    body = render_to_string("error.html", context).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
