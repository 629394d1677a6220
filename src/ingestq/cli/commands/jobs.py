"""Producing and looking at jobs: enqueue, jobs list, jobs show."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from ingestq.cli.context import err, out, print_json, state
from ingestq.cli.render import job_table, print_unreadable, show_job
from ingestq.core.job import Job, JobState
from ingestq.errors import BadRecord

if TYPE_CHECKING:
    from ingestq.core.queue import Queue

jobs_app = typer.Typer(help="Look at jobs in any state.", no_args_is_help=True,
                         rich_markup_mode=None)


MAX_COUNT = 1_000_000  # copies per command: beyond this, a loop or a batch file says more


def parse_at(text: str) -> float:
    """A time to run at, as Unix seconds: a number, or ISO 8601 (no offset means UTC)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a time: use ISO 8601 (2026-12-02T06:00:00Z, no offset = UTC) "
            "or Unix seconds", param_hint="--at") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def delay_for(delay: float | None, at: str | None, now: float) -> float:
    """Seconds from now until a job may run, from --delay or --at (not both)."""
    if delay is not None and at is not None:
        raise typer.BadParameter("give --delay or --at, not both", param_hint="--at")
    if at is None:
        return delay or 0.0
    when = parse_at(at)
    if when < now - 1:
        raise typer.BadParameter(
            f"{at!r} is {now - when:.0f} s in the past (server clock)", param_hint="--at")
    return max(0.0, when - now)


def enqueue(
    kind: str = typer.Argument(..., help="Job kind, e.g. noop, sleep, fail, crash, file."),
    payload: str = typer.Option("{}", "--payload", "-p", help="JSON object."),
    dedupe_key: str = typer.Option(None, "--dedupe-key",
                                   help="Return the live job holding this key instead of a copy."),
    count: int = typer.Option(1, "--count", "-n", min=1, max=MAX_COUNT,
                              help="Enqueue this many copies (sent in batches)."),
    delay: float = typer.Option(None, "--delay", min=0.0,
                                help="Run no sooner than this many seconds from now."),
    at: str = typer.Option(None, "--at", help="Run no sooner than this time: ISO 8601 "
                                              "(no offset = UTC) or Unix seconds."),
    max_retries: int = typer.Option(None, "--max-retries", min=0,
                                    help="Retries after failures (default "
                                         "ingest.queue_recovery.max_retries)."),
    as_json: bool = typer.Option(False, "--json", help="Print ids as JSON."),
) -> None:
    """Enqueue jobs, now or scheduled for later.

    Example: ingestctl enqueue sleep --payload '{"seconds": 2}' --count 10 --delay 60
    """
    from ingestq.core import queries
    from ingestq.core.queue import ENQUEUE_CHUNK, JobSpec
    from ingestq.tracing import enqueue_span  # opentelemetry only for commands that trace

    q = state.queue
    data = json.loads(q.encode_payload(payload))
    wait = delay_for(delay, at, queries.server_time_ms(q) / 1000.0)
    created = total = 0
    first = last = ""
    with enqueue_span(kind) as carry:  # OTLP export only when an endpoint is configured
        spec = JobSpec(kind, {**data, **carry}, dedupe_key, max_retries, wait)
        if as_json:
            sys.stdout.write("[")
        # Streamed in batches: memory stays that of one batch whatever the count.
        for start in range(0, count, ENQUEUE_CHUNK):
            results = q.enqueue_many([spec] * min(ENQUEUE_CHUNK, count - start))
            created += sum(r.created for r in results)
            total += len(results)
            first, last = first or results[0].id, results[-1].id
            if as_json:
                sys.stdout.write(("," if start else "") + ",".join(
                    json.dumps({"id": r.id, "created": r.created}) for r in results))
    warn_unserved(q, [kind])
    if as_json:
        sys.stdout.write("]\n")
        sys.stdout.flush()
        return
    out.print(f"enqueued {created} {kind} job(s)"
              + (f" due in {wait:.0f} s" if wait else "")
              + (f", {total - created} deduplicated" if created < total else "")
              + (f": {first}" if total == 1 else f": ids {first}..{last}"))


def warn_unserved(q: Queue, kinds: list[str]) -> None:
    """A line on stderr when no live worker takes a kind just enqueued: such a job is accepted
    (a worker for it may start later) but would otherwise wait silently."""
    from ingestq.core.snapshot import unserved_kinds

    for kind in unserved_kinds(q, kinds):
        err.print(f"[yellow]warning:[/yellow] no live worker takes kind {kind!r}: the job waits "
                  f"until one does (`ingestctl worker --kinds {kind}`, with --import for your "
                  "own handlers; `ingestctl workers` lists what runs)", highlight=False)


@jobs_app.command("list")
def list_cmd(
    job_state: JobState = typer.Option(None, "--state", "-s", case_sensitive=False,
                                       help="Only this state (default: every state)."),
    kind: str = typer.Option(None, "--kind", "-k", help="Only this kind."),
    older_than: float = typer.Option(
        None, "--older-than", min=0.0,
        help="Seconds since enqueue (pending, scheduled), claim (processing) or end."),
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="Most jobs shown."),
    as_json: bool = typer.Option(False, "--json", help="JSON array of job records."),
) -> None:
    """List jobs, oldest first, per state in lifecycle order.

    Example: ingestctl jobs list --state processing --older-than 600 --json
    """
    from ingestq.core import queries

    q = state.queue
    found: list[Job] = []
    bad: list[BadRecord] = []
    for s in [job_state] if job_state else list(JobState):
        found += queries.list_jobs(q, s, kind=kind, older_than=older_than,
                                   limit=limit - len(found), unreadable=bad)
        if len(found) >= limit:
            break
    print_unreadable(err, bad)
    if as_json:
        print_json([j.to_dict() for j in found])
        return
    now = queries.server_time_ms(q) / 1000.0
    out.print(job_table(found, now, f"{len(found)} job(s)"
                        + (f" in {job_state.value}" if job_state else "")))


@jobs_app.command("show")
def show_cmd(
    job_id: str = typer.Argument(..., help="Job id."),
    tracebacks: bool = typer.Option(False, "--traceback", help="Print the last traceback."),
    as_json: bool = typer.Option(False, "--json", help="The whole record as JSON."),
) -> None:
    """Show one job in full, with its error history. Exit 1 when it does not exist.

    Example: ingestctl jobs show 42 --traceback
    """
    show_job(state.queue, out, job_id, tracebacks=tracebacks, as_json=as_json)


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(enqueue)
    app.add_typer(jobs_app, name="jobs")
