"""`ingestctl serve`: the HTTP service."""

from __future__ import annotations

import typer
from redis import Redis

from ingestq.cli.context import err, state
from ingestq.config import is_loopback
from ingestq.core.connection import connect, no_retries
from ingestq.core.queue import Queue
from ingestq.errors import ConnectionFailed

SERVICE_SOCKET_TIMEOUT = 3.0  # /metrics and /readyz must answer 503 quickly when Redis is gone
# Under Prometheus' default 10 s scrape timeout even when the host drops packets silently.
SERVICE_CONNECT_TIMEOUT = 2.0


def _client() -> Redis:
    settings = state.config.ingest
    try:
        client = connect(settings, socket_timeout=SERVICE_SOCKET_TIMEOUT)
        # connect() dials with 5 s; later reconnects of this pool use the shorter limit.
        client.connection_pool.connection_kwargs["socket_connect_timeout"] = (
            SERVICE_CONNECT_TIMEOUT)
        return client
    except ConnectionFailed as exc:
        if not settings.redis.url:
            raise
        # a configured server may come back: start anyway, /readyz says 503 until it does
        err.print(f"[yellow]warning:[/yellow] {exc}; serving, /readyz answers 503 until it "
                  "is reachable", highlight=False)
        return Redis.from_url(settings.redis.url, decode_responses=True,
                              socket_timeout=SERVICE_SOCKET_TIMEOUT,
                              socket_connect_timeout=SERVICE_CONNECT_TIMEOUT,
                              retry=no_retries())


def serve(
    host: str = typer.Option(None, "--host", help="Bind address (default ingest.service.host, "
                                                  "127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Port (default ingest.service.port, 8081)."),
) -> None:
    """Run the HTTP service: jobs, dead letters, /metrics, /healthz, /readyz, /docs.

    Example: ingestctl serve --port 8081   (set INGESTQ_SERVICE_TOKEN to allow mutating routes)
    """
    import uvicorn

    from ingestq.service.app import create_app

    settings = state.config.ingest
    bind, bind_port = host or settings.service.host, port or settings.service.port
    app = create_app(Queue(_client(), settings), host=bind)
    if not is_loopback(bind) and not settings.service.token:
        err.print(f"[yellow]warning:[/yellow] serving on {bind}, beyond loopback, with no "
                  "token: every mutating route is refused"
                  + ("" if settings.service.read_auth == "open" else " and so are job reads")
                  + "; set INGESTQ_SERVICE_TOKEN", highlight=False)
    err.print(f"ingestq service on http://{bind}:{bind_port} (docs at /docs)", highlight=False)
    uvicorn.run(app, host=bind, port=bind_port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command()(serve)
