"""The MCP server inside the HTTP service: streamable HTTP at ``/mcp``, behind the bearer token.

The same server :func:`.server.build_server` builds for stdio. The token is checked before the
SDK sees the request, so an unauthenticated caller cannot open sessions (each holds memory and a
task). With no token configured the route answers 403 and says how to turn it on, as the
mutating routes do. The host app's lifespan must run the session manager: :func:`mount` returns
the context manager to enter there.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ingestq.config import IngestSettings
from ingestq.logs import get_logger
from ingestq.mcp.settings import http_route_state

if TYPE_CHECKING:  # the SDK loads only when the route is on (seconds of imports)
    from mcp.server.transport_security import TransportSecuritySettings

MCP_PATH = "/mcp"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")

Lifespan = Callable[[], AbstractAsyncContextManager[None]]


class BearerGuard:
    """ASGI wrapper: the request passes only with ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp | None, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse with 401 (wrong or missing token) or 403 (no token configured)."""
        if self.app is None or not self.token:
            await _refuse(send, 403, http_route_state(None)[1])
            return
        headers = dict(scope.get("headers") or [])
        sent = headers.get(b"authorization", b"")
        expected = b"Bearer " + self.token.encode()
        if not hmac.compare_digest(sent, expected):
            await _refuse(send, 401, "missing or wrong bearer token (Authorization: Bearer ...)",
                          [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, message: str,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": message, "detail": None}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def transport_security(host: str, settings: IngestSettings) -> TransportSecuritySettings | None:
    """DNS rebinding protection for the bind address: the SDK's loopback default (None), or
    the configured host names; an open bind with none configured relies on the token alone."""
    from mcp.server.transport_security import TransportSecuritySettings

    if host in _LOOPBACK:
        return None
    allowed = settings.mcp.allowed_hosts
    if not allowed:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                     allowed_hosts=list(allowed),
                                     allowed_origins=[f"https://{h}" for h in allowed]
                                     + [f"http://{h}" for h in allowed])


class _McpApp:
    """The MCP endpoint, built on its first request: importing the SDK and opening the stores
    take seconds, and the service's other routes (``/healthz``, probes) must not wait for them,
    nor a service nobody asks for MCP pay for them."""

    STARTUP_WAIT_SECONDS = 60.0

    def __init__(self, settings: IngestSettings, host: str) -> None:
        self.settings = settings
        self.host = host
        self.inner: ASGIApp | None = None
        self.failed: str | None = None
        self._wanted: Any = None  # anyio.Event, made inside the loop by run()
        self._ready: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve once ready (the first request starts the build and waits for it)."""
        if self.inner is None and self._wanted is not None and self.failed is None:
            import anyio

            self._wanted.set()
            with anyio.move_on_after(self.STARTUP_WAIT_SECONDS):
                await self._ready.wait()
        if self.inner is not None:
            await self.inner(scope, receive, send)
            return
        reason = self.failed or "the MCP server is starting: retry in a moment"
        await _refuse(send, 503, reason, [(b"retry-after", b"1")])

    async def run(self) -> None:
        """On the first request, build the server, then run its session manager."""
        import anyio

        self._wanted, self._ready = anyio.Event(), anyio.Event()
        await self._wanted.wait()
        try:
            manager = await anyio.to_thread.run_sync(self._build)
        except Exception as exc:  # the service stays up; /mcp and the log say why MCP is not
            self.failed = f"the MCP server failed to start: {type(exc).__name__}: {exc}"
            get_logger("ingestq.mcp").exception("MCP server failed to start")
            self._ready.set()
            return
        from mcp.server.streamable_http_manager import StreamableHTTPASGIApp

        async with manager.run():
            self.inner = StreamableHTTPASGIApp(manager)
            self._ready.set()
            await anyio.sleep_forever()

    def _build(self) -> Any:
        from ingestq.mcp.server import build_server

        server = build_server(self.settings)
        server.streamable_http_app(streamable_http_path=MCP_PATH, host=self.host,
                                   transport_security=transport_security(self.host,
                                                                         self.settings))
        return server.session_manager


def mount(routes: list[Route], settings: IngestSettings, host: str) -> Lifespan | None:
    """Add the ``/mcp`` route; return the lifespan the host app must enter (None: route off)."""
    token = settings.service.token
    if not token:
        routes.append(Route(MCP_PATH, BearerGuard(None, None)))
        return None
    app = _McpApp(settings, host)
    routes.append(Route(MCP_PATH, BearerGuard(app, token)))

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        import anyio

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(app.run)
            yield
            tasks.cancel_scope.cancel()

    return lifespan
