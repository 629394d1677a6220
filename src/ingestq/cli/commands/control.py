"""Operator controls: pause and resume a kind, cancel a job, run a scheduled job now.

The core is imported inside each command: `ingestctl --help` must not load redis.
"""

from __future__ import annotations

import typer

from ingestq.cli.context import out, print_json, state

AS_JSON = typer.Option(False, "--json", help="Print the outcome as JSON.")


def pause(kind: str = typer.Argument(..., help="Job kind to stop claiming."),
          as_json: bool = AS_JSON) -> None:
    """Stop every worker claiming KIND from its next claim on; running jobs finish.

    Pending jobs of the kind wait; `status` and /metrics show it paused.

    Example: ingestctl pause file
    """
    from ingestq.core.controls import pause_kind

    changed = pause_kind(state.queue, kind)
    if as_json:
        print_json({"kind": kind, "paused": True, "changed": changed})
        return
    out.print(f"{kind} paused" if changed else f"{kind} was already paused", highlight=False)


def resume(kind: str = typer.Argument(..., help="Job kind to claim again."),
           as_json: bool = AS_JSON) -> None:
    """Let workers claim KIND again (idle workers are woken at once).

    Example: ingestctl resume file
    """
    from ingestq.core.controls import resume_kind

    changed = resume_kind(state.queue, kind)
    if as_json:
        print_json({"kind": kind, "paused": False, "changed": changed})
        return
    out.print(f"{kind} resumed" if changed else f"{kind} was not paused", highlight=False)


def cancel(job_id: str = typer.Argument(..., help="Job id."), as_json: bool = AS_JSON) -> None:
    """Cancel a job: it goes to dead with reason `cancelled` and is never retried.

    A running job's worker stops it (a child process is killed after
    ingest.worker.cancel_grace_seconds). Exit 1 when the job does not exist or already ended.
    Example: ingestctl cancel 42
    """
    from ingestq.core.controls import cancel_job

    was = cancel_job(state.queue, job_id)
    if as_json:
        print_json({"id": job_id, "cancelled": True, "was": was})
        return
    out.print(f"job {job_id} cancelled (was {was})", highlight=False)


def run_now_cmd(job_id: str = typer.Argument(..., help="Id of a scheduled job.")) -> None:
    """Make a scheduled job (a delayed job or a retry in backoff) due now.

    Exit 1 when it does not exist or is not scheduled.
    Example: ingestctl run-now 42
    """
    from ingestq.core.controls import run_now

    run_now(state.queue, job_id)
    out.print(f"job {job_id} is due now", highlight=False)


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(pause)
    app.command()(resume)
    app.command()(cancel)
    app.command("run-now")(run_now_cmd)
