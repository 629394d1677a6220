"""`doctor`: what needs attention on this queue's server, workers, reaper and config."""

from __future__ import annotations

import typer
from rich.table import Table

from ingestq.cli.context import EXIT_PROBLEM, EXIT_UNREACHABLE, EXIT_USAGE, out, print_json, state
from ingestq.errors import ConfigError, ConnectionFailed
from ingestq.ops.doctor import Check, DoctorReport, run_doctor


def _fatal(check: Check, code: int, as_json: bool) -> None:
    if as_json:
        print_json({"ok": False, "mode": None, "server": None, "version": None,
                    "checks": [check.__dict__]})
    else:
        out.print(f"[red]✗ {check.name}[/red]: {check.detail}", highlight=False)
        if check.fix:
            out.print(f"  fix: {check.fix}", highlight=False)
    raise typer.Exit(code)


def _render(report: DoctorReport) -> None:
    table = Table(title=f"ingestq doctor: {report.mode} server {report.server}")
    for col in ("", "check", "finding", "what to do"):
        table.add_column(col, overflow="fold")
    for c in report.checks:
        table.add_row("[green]ok[/green]" if c.ok else "[red]!![/red]", c.name, c.detail,
                      c.fix or "")
    out.print(table)
    bad = sum(not c.ok for c in report.checks)
    out.print("all checks passed" if not bad else f"{bad} check(s) need attention")


def doctor(as_json: bool = typer.Option(False, "--json", help="Machine-readable findings.")
           ) -> None:
    """Check server version and mode, persistence, eviction policy, memory, clock skew,
    reaper and worker liveness, and the configuration. Exit 1 when anything needs attention
    (each finding says what to do), 2 on an invalid configuration, 3 when Redis is unreachable.

    Example: ingestctl doctor --json | jq '.checks[] | select(.ok == false)'
    """
    try:
        loaded = state.config
    except ConfigError as exc:
        _fatal(Check("config", False, str(exc), "fix the key named above"), EXIT_USAGE, as_json)
        return
    try:
        queue = state.queue
    except ConnectionFailed as exc:
        _fatal(Check("connection", False, str(exc),
                     "check ingest.redis.url / INGESTQ_REDIS_URL and that the server runs"),
               EXIT_UNREACHABLE, as_json)
        return
    report = run_doctor(queue, str(loaded.file) if loaded.file else None)
    if as_json:
        print_json(report.to_dict())
    else:
        _render(report)
    if not report.ok:
        raise typer.Exit(EXIT_PROBLEM)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command()(doctor)
