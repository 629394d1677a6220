"""`up`: the embedded server if needed, N workers, a reaper and the service, supervised."""

from __future__ import annotations

import os
from collections.abc import Callable

import typer
import typer.main

from ingestq.cli.context import err, state
from ingestq.core.embedded import EmbeddedServer
from ingestq.ops.supervisor import Supervisor, child_env, default_grace, plan_up
from ingestq.redaction import redact


def _has_command(app: typer.Typer, name: str) -> bool:
    # checked at run time: the service registers `serve` only once it exists
    group = typer.main.get_command(app)
    return name in getattr(group, "commands", {})


def make_up(app: typer.Typer) -> Callable[..., None]:
    """The `up` command, bound to the app whose commands it looks up."""

    def up(
        workers: int = typer.Option(2, "--workers", "-w", min=0, help="Worker processes."),
        service: bool = typer.Option(True, "--service/--no-service",
                                     help="Run `ingestctl serve` too (when it exists)."),
        grace: float = typer.Option(None, "--grace", min=0.0,
                                    help="Seconds children get to stop (default: worker "
                                         "shutdown_grace_seconds + 5)."),
    ) -> None:
        """Run everything under one supervisor until Ctrl-C or SIGTERM, then stop gracefully.

        Starts the embedded server when no Redis URL is configured (it keeps running after
        `up` stops, for other processes), then N workers, one reaper and the HTTP service;
        restarts any child that dies.

        Example: ingestctl up --workers 4
        """
        settings = state.config.ingest
        state.queue.client.ping()  # starts the embedded server if needed; exit 3 if unreachable
        where = (redact(settings.redis.url) if settings.redis.url
                 else f"unix://{EmbeddedServer(settings.data_dir).socket} (embedded)")
        err.print(f"server: {where}", highlight=False)
        with_service = service and _has_command(app, "serve")
        if service and not with_service:
            err.print("service: not started (this install has no `serve` command)")
        specs = plan_up(settings, workers=workers, with_service=with_service)
        sup = Supervisor(specs, grace_seconds=grace if grace is not None
                         else default_grace(settings),
                         report=lambda line: err.print(line, highlight=False), env=child_env())
        err.print(f"supervisor pid {os.getpid()}: Ctrl-C or SIGTERM stops everything")
        raise typer.Exit(sup.run())

    return up


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("up")(make_up(app))
