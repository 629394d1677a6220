"""Producing and looking at jobs: enqueue, jobs list, jobs show."""

from __future__ import annotations

import json
import sys

import typer

from ingestq.cli.context import err, out, print_json, state
from ingestq.cli.render import job_table, print_job, print_unreadable
from ingestq.core import queries as reads
from ingestq.core.job import Job, JobState
from ingestq.core.queue import ENQUEUE_CHUNK, JobSpec
from ingestq.errors import BadRecord

jobs_app = typer.Typer(help="Look at jobs in any state.", no_args_is_help=True)


MAX_COUNT = 1_000_000  # copies per command: beyond this, a loop or a batch file says more


def enqueue(
    kind: str = typer.Argument(..., help="Job kind, e.g. noop, sleep, fail, crash, file."),
    payload: str = typer.Option("{}", "--payload", "-p", help="JSON object."),
    dedupe_key: str = typer.Option(None, "--dedupe-key",
                                   help="Return the live job holding this key instead of a copy."),
    count: int = typer.Option(1, "--count", "-n", min=1, max=MAX_COUNT,
                              help="Enqueue this many copies (sent in batches)."),
    as_json: bool = typer.Option(False, "--json", help="Print ids as JSON."),
) -> None:
    """Enqueue jobs.

    Example: ingestctl enqueue sleep --payload '{"seconds": 2}' --count 10
    """
    from ingestq.tracing import enqueue_span  # opentelemetry only for commands that trace

    q = state.queue
    data = json.loads(q.encode_payload(payload))
    created = total = 0
    first = last = ""
    with enqueue_span(kind) as carry:  # OTLP export only when an endpoint is configured
        spec = JobSpec(kind, {**data, **carry}, dedupe_key)
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
    if as_json:
        sys.stdout.write("]\n")
        sys.stdout.flush()
        return
    out.print(f"enqueued {created} {kind} job(s)"
              + (f", {total - created} deduplicated" if created < total else "")
              + (f": {first}" if total == 1 else f": ids {first}..{last}"))


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
    q = state.queue
    found: list[Job] = []
    bad: list[BadRecord] = []
    for s in [job_state] if job_state else list(JobState):
        found += reads.list_jobs(q, s, kind=kind, older_than=older_than,
                                 limit=limit - len(found), unreadable=bad)
        if len(found) >= limit:
            break
    print_unreadable(err, bad)
    if as_json:
        print_json([j.to_dict() for j in found])
        return
    now = reads.server_time_ms(q) / 1000.0
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
    q = state.queue
    job = reads.get_job(q, job_id)
    if as_json:
        print_json(job.to_dict())
        return
    print_job(out, job, reads.server_time_ms(q) / 1000.0, tracebacks=tracebacks)


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(enqueue)
    app.add_typer(jobs_app, name="jobs")
