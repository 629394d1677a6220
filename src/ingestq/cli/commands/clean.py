"""`clean`: take back stale (or, with --older-than, old) attempts, safely."""

from __future__ import annotations

import typer
from rich.table import Table

from ingestq.cli.context import confirm_or_refuse, out, print_json, state
from ingestq.cli.render import duration
from ingestq.ops.clean import CleanPlan, CleanResult, apply_clean, plan_clean, plan_to_dict


def _table(plan: CleanPlan) -> Table:
    table = Table()
    for col in ("Job ID", "Kind", "Age", "Attempts", "Worker", "Path or payload"):
        table.add_column(col, overflow="fold")
    for c in plan.candidates:
        table.add_row(c.id, c.kind, duration(c.age_seconds), str(c.attempts), c.worker or "-",
                      c.target)
    return table


def _question(plan: CleanPlan) -> str:
    n = len(plan.candidates)
    q = f"Take back {n} job(s) (requeue while retries last, else dead letter)?"
    if plan.alive:
        q = (f"{plan.alive} of these {n} job(s) are ALIVE: a worker is running them right now "
             f"and will lose them. {q}")
    return q


def _summary(plan: CleanPlan, result: CleanResult | None, dry_run: bool) -> dict[str, object]:
    return {"dry_run": dry_run, "older_than": plan.older_than, "selected": len(plan.candidates),
            "alive": plan.alive, "jobs": plan_to_dict(plan),
            "requeued": result.requeued if result else 0,
            "dead_lettered": result.dead_lettered if result else 0,
            "skipped": result.skipped if result else 0}


def clean(
    older_than: float = typer.Option(
        None, "--older-than", min=0.0,
        help="Select attempts started at least this many seconds ago, LIVE ONES INCLUDED "
             "(0 means every attempt). Without it: only stale ones."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the selection; change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask (required without a tty)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable selection and result."),
) -> None:
    """Take back stuck jobs: requeue while the retry budget lasts, else dead-letter them.

    Without --older-than only stale attempts are selected (lease expired, or running longer
    than job_timeout_seconds); healthy running jobs are never touched. Asks before acting
    unless --yes; with no terminal and no --yes it refuses and exits 1.

    Example: ingestctl clean --dry-run ; ingestctl clean --older-than 600 --yes
    """
    plan = plan_clean(state.queue, older_than)
    n = len(plan.candidates)
    label = "stale job(s)" if older_than is None else f"job(s) started >= {older_than:g} s ago"
    if not as_json:
        if not n:
            out.print(f"No {label} found.")
            return
        out.print(f"Found {n} {label}" + (f", {plan.alive} of them alive" if plan.alive else "")
                  + ":")
        out.print(_table(plan))
    if dry_run or not n:
        if as_json:
            print_json(_summary(plan, None, dry_run))
        elif dry_run:
            out.print("dry run: nothing was changed")
        return
    confirm_or_refuse(_question(plan), yes=yes, what=f"clean {n} job(s)")
    result = apply_clean(state.queue, plan)
    if as_json:
        print_json(_summary(plan, result, False))
        return
    out.print(f"Cleaned {result.requeued + result.dead_lettered} job(s):\n"
              f"  Requeued: {result.requeued}\n  Failed (to DLQ): {result.dead_lettered}")
    if result.skipped:
        out.print(f"  Skipped: {result.skipped} (finished or re-claimed meanwhile; untouched)")


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command()(clean)
