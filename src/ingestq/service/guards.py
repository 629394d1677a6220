"""Request guards: the bearer token on mutating routes (and on job reads beyond loopback), and
the request body size limit."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingestq.config import is_loopback

# Declared through FastAPI's scheme so the OpenAPI schema and /docs show the lock and the
# "Authorize" button; the checks themselves are ours (auto_error off) to keep our messages.
bearer = HTTPBearer(auto_error=False, description="ingest.service.token / INGESTQ_SERVICE_TOKEN")


def require_token(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
                  ) -> None:
    """Refuse a mutating request without the configured bearer token.

    No token configured: the route is refused (403), never left open.
    """
    expected: str | None = request.app.state.settings.service.token
    if not expected:
        raise HTTPException(403, "mutating routes are disabled: set ingest.service.token "
                                 "(or INGESTQ_SERVICE_TOKEN) and send it as a bearer token")
    sent = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(401, "missing or wrong bearer token (Authorization: Bearer ...)",
                            headers={"WWW-Authenticate": "Bearer"})


def require_read_token(request: Request,
                       credentials: Annotated[HTTPAuthorizationCredentials | None,
                                              Depends(bearer)]) -> None:
    """Guard the job reads (payloads, worker ids, tracebacks) as ``service.read_auth`` says.

    auto: open when the service is bound to loopback, the token required beyond it.
    """
    service = request.app.state.settings.service
    mode = service.read_auth
    if mode == "open" or (mode == "auto" and is_loopback(request.app.state.bind_host)):
        return
    if not service.token:
        raise HTTPException(403, "job reads need the bearer token here (the service is bound "
                                 "beyond loopback): set ingest.service.token, or "
                                 "ingest.service.read_auth: open to serve them to anyone")
    require_token(request, credentials)


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
                                    "(ingest.service.max_body_bytes)",
                           "detail": {"limit_bytes": self.limit}}).encode()
        headers: list[Any] = [(b"content-type", b"application/json"),
                              (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
