"""`ingestctl serve`: the HTTP service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ingestq.cli.context import err, state
from ingestq.errors import ConnectionFailed

if TYPE_CHECKING:
    from redis import Redis

SERVICE_SOCKET_TIMEOUT = 3.0  # /metrics and /readyz must answer 503 quickly when Redis is gone
# Under Prometheus' default 10 s scrape timeout even when the host drops packets silently.
SERVICE_CONNECT_TIMEOUT = 2.0


def _client() -> Redis:
    from ingestq.core.connection import connect, deferred_client

    settings = state.config.ingest
    try:
        return connect(settings, socket_timeout=SERVICE_SOCKET_TIMEOUT,
                       reconnect_timeout=SERVICE_CONNECT_TIMEOUT)
    except ConnectionFailed as exc:
        if not settings.redis.url:
            raise
        # a configured server may come back: start anyway, /readyz says 503 until it does
        err.print(f"[yellow]warning:[/yellow] {exc}; serving, /readyz answers 503 until it "
                  "is reachable", highlight=False)
        return deferred_client(settings.redis.url, socket_timeout=SERVICE_SOCKET_TIMEOUT,
                               connect_timeout=SERVICE_CONNECT_TIMEOUT)


def serve(
    host: str = typer.Option(None, "--host", help="Bind address (default ingest.service.host, "
                                                  "127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Port (default ingest.service.port, 8081)."),
) -> None:
    """Run the HTTP service: jobs, dead letters, /metrics, /healthz, /readyz, /docs.

    SIGTERM or Ctrl-C stops it gracefully (requests in progress finish) with exit 0.

    Example: ingestctl serve --port 8081   (set INGESTQ_SERVICE_TOKEN to allow mutating routes)
    """
    import uvicorn

    from ingestq.config import is_loopback
    from ingestq.core.connection import EmbeddedKeeper
    from ingestq.core.queue import Queue
    from ingestq.service.app import create_app

    settings = state.config.ingest
    bind, bind_port = host or settings.service.host, port or settings.service.port
    app = create_app(Queue(_client(), settings), host=bind)
    if not settings.redis.url:
        EmbeddedKeeper(settings).start()  # no other process may be left to restart it
    if not is_loopback(bind) and not settings.service.token:
        err.print(f"[yellow]warning:[/yellow] serving on {bind}, beyond loopback, with no "
                  "token: every mutating route is refused"
                  + ("" if settings.service.read_auth == "open" else " and so are job reads")
                  + "; set INGESTQ_SERVICE_TOKEN", highlight=False)
    err.print(f"ingestq service on http://{bind}:{bind_port} (docs at /docs)", highlight=False)
    _graceful_signals_exit_zero()
    uvicorn.run(app, host=bind, port=bind_port, log_level="warning")
    err.print("ingestq service stopped", highlight=False)


def _graceful_signals_exit_zero() -> None:
    """uvicorn stops gracefully on SIGTERM/SIGINT, then re-raises the signal under the handler
    that was installed before it started, which by default kills the process (exit 143). A
    graceful stop is a success, as for the worker: give it a handler that lets `serve` return."""
    import signal

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _num, _frame: None)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command()(serve)
