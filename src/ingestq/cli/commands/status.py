"""`status`: the queue at a glance."""

from __future__ import annotations

import typer
from rich.table import Table

from ingestq.cli.context import out, print_json, state
from ingestq.cli.render import duration
from ingestq.ops.status import StatusReport, queue_status

STATE_ORDER = ("pending", "scheduled", "processing", "done", "dead")


def _render(r: StatusReport) -> None:
    table = Table(title=f"queue {r.queue}")
    table.add_column("state")
    table.add_column("jobs", justify="right")
    for name in STATE_ORDER:
        table.add_row(name, str(r.counts[name]))
    out.print(table)
    rv = r.reaper
    reaper = ("disabled" if not rv.enabled else "never ran" if rv.last_run is None else
              f"{duration(rv.seconds_since_last_run)} ago, reaped {rv.last_reaped} "
              f"({rv.passes} passes, every {rv.interval_seconds:g} s)")
    tp = r.throughput
    lines = [
        ("oldest pending", duration(r.oldest_pending_age_seconds)),
        ("stale (lease expired, not reaped)", str(r.stale)),
        ("live workers", str(r.live_workers)),
        ("reaper last run", reaper),
        (f"throughput (last {tp.window_seconds:g} s)",
         f"{tp.completed_per_minute:g} completed/min, {tp.failed_per_minute:g} failed/min, "
         f"{tp.events['enqueued']} enqueued"),
    ]
    for name, value in lines:
        out.print(f"[bold]{name}:[/bold] {value}", highlight=False)
    for w in r.warnings:
        out.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
           ) -> None:
    """Depth per state, oldest pending age, stale leases, workers, reaper, throughput, warnings.

    Throughput counts the events stream over the last minute. Exit 0 even with warnings
    (use `ingestctl doctor` for a pass/fail check).

    Example: ingestctl status --json | jq .counts
    """
    report = queue_status(state.queue)
    if as_json:
        print_json(report.to_dict())
        return
    _render(report)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command()(status)
