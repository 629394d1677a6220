"""`server status|stop`: the embedded Valkey server, which outlives the commands that start it."""

from __future__ import annotations

from typing import Any

import typer

from ingestq.cli.context import EXIT_PROBLEM, EXIT_USAGE, err, out, print_json, state

server_app = typer.Typer(help="The embedded Valkey server: is it running, stop it.",
                         no_args_is_help=True, rich_markup_mode=None)


def _embedded_or_exit(as_json: bool) -> Any:
    from ingestq.core.embedded import EmbeddedServer
    from ingestq.redaction import redact

    settings = state.config.ingest
    if settings.redis.url:
        msg = (f"a Redis URL is configured ({redact(settings.redis.url)}): that server is not "
               "managed by ingestctl")
        if as_json:
            print_json({"mode": "url", "server": redact(settings.redis.url), "error": msg})
        else:
            err.print(msg, highlight=False)
        raise typer.Exit(EXIT_USAGE)
    return EmbeddedServer(settings.data_dir)


@server_app.command("status")
def status_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
               ) -> None:
    """Say whether the embedded server runs, with its pid, socket and data directory (never
    starts it). Exit 0 when it runs, 1 when it does not, 2 when a Redis URL is configured.

    Example: ingestctl server status --json
    """
    server = _embedded_or_exit(as_json)
    running = server.ping()
    data = {"mode": "embedded", "running": running, "pid": server.pid() if running else None,
            "socket": str(server.socket), "dir": str(server.dir), "log": str(server.logfile)}
    if as_json:
        print_json(data)
    elif running:
        out.print(f"embedded server running (pid {data['pid']}) on {server.socket}; data in "
                  f"{server.dir}", highlight=False)
    else:
        out.print(f"embedded server not running (data in {server.dir}); any command that "
                  "needs it starts it", highlight=False)
    if not running:
        raise typer.Exit(EXIT_PROBLEM)


@server_app.command("stop")
def stop_cmd(
    force: bool = typer.Option(False, "--force", help="Stop it even while workers are live."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Stop the embedded server (its AOF keeps every job for the next start). Refuses (exit 1)
    while workers are live, since they would restart it; stop them first or pass --force.

    Example: ingestctl server stop
    """
    from ingestq.core.worker_registry import live_workers

    server = _embedded_or_exit(as_json)
    if not server.ping():
        result = {"stopped": False, "was_running": False, "pid": None}
    else:
        live = live_workers(state.queue)
        if live and not force:
            msg = (f"refusing to stop the embedded server: {len(live)} live worker(s) would "
                   "restart it (stop them first, or pass --force)")
            if as_json:
                print_json({"stopped": False, "was_running": True, "pid": server.pid(),
                            "error": msg})
            else:
                err.print(msg, highlight=False)
            raise typer.Exit(EXIT_PROBLEM)
        pid = server.pid()
        state.queue.client.close()
        server.stop()
        result = {"stopped": not server.ping(), "was_running": True, "pid": pid}
    if as_json:
        print_json(result)
    else:
        out.print("embedded server stopped" if result["stopped"] else
                  "embedded server was not running", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the command group to the app."""
    app.add_typer(server_app, name="server")
