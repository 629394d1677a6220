"""Request guards: the bearer token on mutating routes, and the request body size limit."""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def require_token(request: Request) -> None:
    """Refuse a mutating request without the configured bearer token.

    No token configured: the route is refused (403), never left open.
    """
    expected: str | None = request.app.state.settings.service.token
    if not expected:
        raise HTTPException(403, "mutating routes are disabled: set ingest.service.token "
                                 "(or INGESTQ_SERVICE_TOKEN) and send it as a bearer token")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(401, "missing or wrong bearer token (Authorization: Bearer ...)")


class BodyLimit:
    """ASGI middleware: 413 for bodies over ``limit`` bytes, by Content-Length or while reading.

    A chunked body that passes the limit is answered at once; the application then sees a
    client disconnect, and whatever it tries to send afterwards is dropped.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length first, then count the bytes actually received."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit and not refused:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 already went out
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, guarded)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"error": f"request body over the limit of {self.limit} bytes "
                                    "(ingest.service.max_body_bytes)"}).encode()
        headers: list[Any] = [(b"content-type", b"application/json"),
                              (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
