"""How ingestctl shows things to people: durations, times, job tables, one job in full."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ingestq.core.job import Job
from ingestq.errors import BadRecord

if TYPE_CHECKING:
    from ingestq.core.queue import Queue  # the CLI's --help must not load redis

SHORT = 60  # characters of an error message shown in a table cell


def duration(seconds: float | None) -> str:
    """12s, 5m03s, 2h10m, 3d04h: short and sortable by eye."""
    if seconds is None:
        return "-"
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def timestamp(ts: float | None, now: float | None = None) -> str:
    """UTC time, with how long ago when ``now`` is given."""
    if ts is None:
        return "-"
    text = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return text if now is None else f"{text} ({duration(now - ts)} ago)"


def shorten(text: str | None, limit: int = SHORT) -> str:
    """One line, at most ``limit`` characters."""
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def job_table(jobs: Sequence[Job], now: float, title: str) -> Table:
    """Jobs as a table: id, kind, state, age, attempts, worker, path or payload, last error."""
    from ingestq.ops.clean import describe_target

    table = Table(title=title)
    for col in ("Job ID", "Kind", "State", "Age", "Attempts", "Worker", "Path or payload",
                "Last error"):
        table.add_column(col, overflow="fold")
    for j in jobs:
        state = j.state.value + (f" ({j.dead_reason})" if j.dead_reason else "")
        table.add_row(j.id, j.kind, state, duration(j.age(now)), str(j.attempts),
                      j.worker or "-", describe_target(j.payload), shorten(j.last_error))
    return table


def progress_text(progress: dict[str, Any], now: float) -> str:
    """'3/10 (30%) sections embedded, 2s ago': the handler's last report."""
    done, total = progress["done"], progress["total"]
    share = f" ({100 * done / total:.0f}%)" if total else ""
    note = f" {progress['note']}" if progress.get("note") else ""
    at = progress.get("at")
    return f"{done:g}/{total:g}{share}{note}" + (f", {duration(now - at)} ago" if at else "")


def _fields(job: Job, now: float) -> list[tuple[str, str]]:
    times = [("enqueued", job.enqueued_at), ("started", job.started_at),
             ("claimed", job.claimed_at), ("requeued", job.requeued_at),
             ("failed", job.failed_at), ("finished", job.finished_at),
             ("lease until", job.lease_until), ("due", job.due_at)]
    rows = [("id", job.id), ("kind", job.kind),
            ("state", job.state.value + (f" (reason {job.dead_reason})" if job.dead_reason
                                         else "")),
            ("attempts", f"{job.attempts} ({job.failures} failed of {job.max_retries} retries, "
                         f"{job.crash_recoveries} crash recoveries)"),
            ("worker", job.worker or "-"), ("dedupe key", job.dedupe_key or "-"),
            ("token", str(job.token))]
    rows += [(name, timestamp(ts, now)) for name, ts in times if ts is not None]
    rows.append(("payload", json.dumps(job.payload, indent=2, sort_keys=True)))
    if job.progress:
        rows.append(("progress", progress_text(job.progress, now)))
    if job.last_error:
        rows.append(("last error", job.last_error))
    if job.result is not None:
        rows.append(("result", json.dumps(job.result, indent=2, sort_keys=True)))
    return rows


def print_job(console: Console, job: Job, now: float, *, tracebacks: bool) -> None:
    """One job in full: its fields, then its error history, oldest first."""
    table = Table(show_header=False, box=None, title=f"job {job.id}")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in _fields(job, now):
        table.add_row(name, value)
    console.print(table)
    if not job.errors:
        console.print("no errors recorded")
        return
    history = Table(title=f"error history ({len(job.errors)} kept)")
    for col in ("#", "attempt", "at", "type", "reason", "worker", "message"):
        history.add_column(col, overflow="fold")
    for i, e in enumerate(job.errors, 1):
        at = e.get("at")
        history.add_row(str(i), str(e.get("attempt", "-")),
                        timestamp(int(at) / 1000.0) if at else "-", str(e.get("type", "")),
                        str(e.get("reason", "")), str(e.get("worker", "-")),
                        str(e.get("message", "")))
    console.print(history)
    last_tb = next((e.get("traceback") for e in reversed(job.errors) if e.get("traceback")), "")
    if last_tb and tracebacks:
        console.print("[bold]last traceback[/bold]")
        console.print(str(last_tb), markup=False, highlight=False)
    elif last_tb:
        console.print("(traceback kept: show it with --traceback)")


def print_unreadable(console: Console, bad: Sequence[BadRecord]) -> None:
    """Name each record a listing skipped: one bad record is reported, never fatal to the list."""
    for record in bad:
        console.print(f"[yellow]skipped:[/yellow] {record}", highlight=False)


def show_job(queue: Queue, console: Console, job_id: str, *, tracebacks: bool,
             as_json: bool) -> Job:
    """`jobs show` and `dead show`: one record in full, as text or JSON; returns it."""
    from ingestq.cli.context import print_json
    from ingestq.core import queries

    job = queries.get_job(queue, job_id)
    if as_json:
        print_json(job.to_dict())
    else:
        print_job(console, job, queries.server_time_ms(queue) / 1000.0, tracebacks=tracebacks)
    return job
