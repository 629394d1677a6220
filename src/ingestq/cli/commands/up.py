"""`up`: the embedded server if needed, N workers, a reaper and the service, supervised."""

from __future__ import annotations

import os

import typer

from ingestq.cli.context import EXIT_PROBLEM, err, state


def up(
    workers: int = typer.Option(2, "--workers", "-w", min=0,
                                help="Worker processes (with a local model: one process with "
                                     "their slots)."),
    service: bool = typer.Option(True, "--service/--no-service",
                                 help="Run `ingestctl serve` too."),
    grace: float = typer.Option(None, "--grace", min=0.0,
                                help="Seconds children get to stop (default: worker "
                                     "shutdown_grace_seconds + 5)."),
) -> None:
    """Run everything under one supervisor until Ctrl-C, SIGTERM or SIGHUP, then stop
    gracefully. Refuses (exit 1) while another `up` runs this queue.

    Starts the embedded server when no Redis URL is configured (it keeps running after
    `up` stops, for other processes), then N workers, one reaper and the HTTP service;
    restarts any child that dies.

    Example: ingestctl up --workers 4
    """
    from ingestq.core import queries
    from ingestq.core.embedded import EmbeddedServer
    from ingestq.ops.supervisor import Supervisor, child_env, default_grace, plan_up
    from ingestq.ops.up_lock import UpLock, UpRunning
    from ingestq.redaction import redact

    settings = state.config.ingest
    queries.ping(state.queue)  # starts the embedded server if needed; exit 3 if unreachable
    where = (redact(settings.redis.url) if settings.redis.url
             else f"unix://{EmbeddedServer(settings.data_dir).socket} (embedded)")
    err.print(f"server: {where}", highlight=False)
    lock = UpLock(settings.data_dir, settings.queue.name)
    try:
        lock.acquire()
    except UpRunning as exc:
        err.print(f"[red]refusing to start:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_PROBLEM) from None
    specs = plan_up(settings, workers=workers, with_service=service)
    sup = Supervisor(specs, grace_seconds=grace if grace is not None
                     else default_grace(settings),
                     report=lambda line: err.print(line, highlight=False), env=child_env(),
                     on_spawn=lock.record)
    err.print(f"supervisor pid {os.getpid()}: Ctrl-C, SIGTERM or SIGHUP stops everything")
    try:
        code = sup.run()
    finally:
        lock.release()
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command("up")(up)
