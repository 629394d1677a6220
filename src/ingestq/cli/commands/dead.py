"""Dead letters: dead list, show, retry, purge."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ingestq.cli.context import (
    EXIT_PROBLEM,
    confirm_or_refuse,
    err,
    out,
    print_json,
    state,
    usage_error,
)
from ingestq.cli.render import job_table, print_unreadable, show_job
from ingestq.core.job import DEAD_REASONS, JobState
from ingestq.errors import BadRecord

if TYPE_CHECKING:
    from ingestq.ops.dead import DeadFilter

dead_app = typer.Typer(help="Dead-letter jobs: list, show, retry, purge.", no_args_is_help=True,
                       rich_markup_mode=None)

KIND = typer.Option(None, "--kind", "-k", help="Only this kind.")
REASON = typer.Option(None, "--reason", "-r", help=f"Only this reason: {', '.join(DEAD_REASONS)}.")
OLDER = typer.Option(None, "--older-than", min=0.0, help="Dead at least this many seconds.")


@dead_app.command("list")
def list_cmd(kind: str = KIND, reason: str = REASON, older_than: float = OLDER,
             limit: int = typer.Option(100, "--limit", "-n", min=1, help="Most jobs shown."),
             as_json: bool = typer.Option(False, "--json", help="JSON array of job records."),
             ) -> None:
    """List dead jobs, oldest death first, with reason and last error.

    Example: ingestctl dead list --reason poison --json
    """
    from ingestq.core import queries
    from ingestq.ops.dead import SelectionError, check_reason

    try:
        check_reason(reason)
    except SelectionError as exc:
        usage_error(str(exc), as_json=as_json)
    q = state.queue
    bad: list[BadRecord] = []
    jobs = queries.list_jobs(q, JobState.DEAD, kind=kind, reason=reason, older_than=older_than,
                             limit=limit, unreadable=bad)
    print_unreadable(err, bad)
    if as_json:
        print_json([j.to_dict() for j in jobs])
        return
    out.print(job_table(jobs, queries.server_time_ms(q) / 1000.0, f"{len(jobs)} dead job(s)"))


@dead_app.command("show")
def show_cmd(job_id: str = typer.Argument(..., help="Job id."),
             tracebacks: bool = typer.Option(False, "--traceback",
                                             help="Print the last traceback."),
             as_json: bool = typer.Option(False, "--json", help="The whole record as JSON."),
             ) -> None:
    """Show a dead job in full: reason, error history, budgets, times. Exit 1 if not dead.

    Example: ingestctl dead show 42 --traceback
    """
    job = show_job(state.queue, out, job_id, tracebacks=tracebacks, as_json=as_json)
    if job.state is not JobState.DEAD:
        err.print(f"job {job_id} is {job.state.value}, not dead")
        raise typer.Exit(EXIT_PROBLEM)


def _act(verb: str, selection: DeadFilter, dry_run: bool, yes: bool, as_json: bool) -> None:
    from ingestq.ops.dead import DeadOutcome, SelectionError, purge_dead, retry_dead, select_dead

    q = state.queue
    try:
        ids = select_dead(q, selection)
    except SelectionError as exc:
        usage_error(str(exc), as_json=as_json)
    # nothing matching a valid filter changes nothing and is no error: exit 0, and the JSON
    # says whether this was a dry run, as asked
    if dry_run or not ids:
        if as_json:
            print_json({"dry_run": dry_run, "selected": ids, "count": len(ids)})
        else:
            out.print(f"would {verb} {len(ids)} dead job(s)" + (f": {' '.join(ids)}" if ids
                                                                  else ""))
        return
    # explicit ids state their intent; a filter or --all may catch more than expected, and
    # a purge cannot be undone
    if verb == "purge" or selection.by_filter:
        confirm_or_refuse(f"{verb.capitalize()} {len(ids)} dead job(s)?", yes=yes,
                          what=f"{verb} {len(ids)} dead job(s)", as_json=as_json)
    outcome: DeadOutcome = (retry_dead if verb == "retry" else purge_dead)(q, ids)
    if as_json:
        print_json(outcome.to_dict())
    else:
        past = "retried" if verb == "retry" else "purged"
        out.print(f"{past} {len(outcome.done)} dead job(s)")
        for label, bad in (("not found", outcome.not_found), ("not dead", outcome.not_dead)):
            if bad:
                err.print(f"{label} (left as they are): {' '.join(bad)}", highlight=False)
    if not outcome.ok:
        raise typer.Exit(EXIT_PROBLEM)


IDS = typer.Argument(None, help="Job ids (or use --all / filters).")
ALL = typer.Option(False, "--all", help="Every dead job.")
DRY = typer.Option(False, "--dry-run", help="Show the selection; change nothing.")
YES = typer.Option(False, "--yes", "-y", help="Do not ask (required without a tty).")
JSON = typer.Option(False, "--json", help="Machine-readable result.")


@dead_app.command("retry")
def retry_cmd(ids: list[str] = IDS, all_: bool = ALL, kind: str = KIND, reason: str = REASON,
              older_than: float = OLDER, dry_run: bool = DRY, yes: bool = YES,
              as_json: bool = JSON) -> None:
    """Send dead jobs back to pending with fresh budgets. Filters and --all ask first.

    Example: ingestctl dead retry --reason retries_exhausted --kind file --yes
    """
    from ingestq.ops.dead import DeadFilter

    _act("retry", DeadFilter(tuple(ids or ()), all_, kind, reason, older_than), dry_run, yes,
         as_json)


@dead_app.command("purge")
def purge_cmd(ids: list[str] = IDS, all_: bool = ALL, kind: str = KIND, reason: str = REASON,
              older_than: float = OLDER, dry_run: bool = DRY, yes: bool = YES,
              as_json: bool = JSON) -> None:
    """Delete dead jobs for good (asks first unless --yes).

    Example: ingestctl dead purge --older-than 604800 --dry-run
    """
    from ingestq.ops.dead import DeadFilter

    _act("purge", DeadFilter(tuple(ids or ()), all_, kind, reason, older_than), dry_run, yes,
         as_json)


def register(app: typer.Typer) -> None:
    """Add the dead sub-commands to the app."""
    app.add_typer(dead_app, name="dead")
