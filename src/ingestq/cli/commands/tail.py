"""`tail`: lifecycle events live; with a job id, follow that job to its end."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import typer

from ingestq.cli.context import EXIT_PROBLEM, err, out, state
from ingestq.cli.render import timestamp
from ingestq.core.events import Event, EventReader
from ingestq.ops.tail import follow_job

DEFAULT_NO_WORKER_TIMEOUT = 30.0


def _printer(as_json: bool) -> Callable[[Event], None]:
    def show(ev: Event) -> None:
        if as_json:
            sys.stdout.write(json.dumps(ev.to_dict()) + "\n")
            sys.stdout.flush()
            return
        extra = " ".join(f"{k}={v}" for k, v in ev.fields.items())
        out.print(f"{timestamp(ev.t)}  {ev.type:<16} job {ev.job:<8} {ev.kind:<10} {extra}",
                  highlight=False)
    return show


def tail(
    job_id: str = typer.Argument(None, help="Follow this job until it is done or dead."),
    timeout: float = typer.Option(
        DEFAULT_NO_WORKER_TIMEOUT, "--timeout", min=0.0,
        help="With a job id: give up (exit 1) after this many seconds with no live worker."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per event and line."),
) -> None:
    """Print lifecycle events as they happen (Ctrl-C to stop).

    With JOB_ID, print that job's events and exit 0 when it is done, 1 when it is dead, and
    1 when no worker is alive to run it for --timeout seconds.

    Example: ingestctl tail 42 --timeout 60 ; ingestctl tail --json | jq .type
    """
    q = state.queue
    show = _printer(as_json)
    if job_id is None:
        reader = EventReader(q)
        try:
            while True:
                for ev in reader.read():
                    show(ev)
        except KeyboardInterrupt:
            return
    outcome = follow_job(q, job_id, no_worker_timeout=timeout, on_event=show)
    err.print(outcome.message, highlight=False)
    if outcome.end != "done":
        raise typer.Exit(EXIT_PROBLEM)


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command()(tail)
