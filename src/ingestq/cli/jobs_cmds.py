"""Producing and looking: enqueue, status."""

from __future__ import annotations

import typer
from rich.table import Table

from ingestq import reads
from ingestq.cli.context import out, print_json, state
from ingestq.queue import JobSpec

STATE_ORDER = ("pending", "scheduled", "processing", "done", "dead")


def enqueue(
    kind: str = typer.Argument(..., help="Job kind, e.g. noop, sleep, fail, crash, file."),
    payload: str = typer.Option("{}", "--payload", "-p", help="JSON object."),
    dedupe_key: str = typer.Option(None, "--dedupe-key",
                                   help="Return the live job holding this key instead of a copy."),
    count: int = typer.Option(1, "--count", "-n", min=1, help="Enqueue this many copies."),
    as_json: bool = typer.Option(False, "--json", help="Print ids as JSON."),
) -> None:
    """Enqueue jobs.

    Example: ingestctl enqueue sleep --payload '{"seconds": 2}' --count 10
    """
    q = state.queue
    data = q.encode_payload(payload)
    import json

    specs = [JobSpec(kind, json.loads(data), dedupe_key) for _ in range(count)]
    results = q.enqueue_many(specs)
    if as_json:
        print_json([{"id": r.id, "created": r.created} for r in results])
        return
    created = sum(r.created for r in results)
    out.print(f"enqueued {created} {kind} job(s)"
              + (f", {len(results) - created} deduplicated" if created < len(results) else "")
              + (f": {results[0].id}" if len(results) == 1 else
                 f": ids {results[0].id}..{results[-1].id}"))


def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
           ) -> None:
    """Jobs per state and the shared counters.

    Example: ingestctl status --json | jq .counts
    """
    q = state.queue
    counts = reads.counts(q)
    counters = reads.stats(q)
    if as_json:
        print_json({"queue": q.keys.queue, "counts": counts, "counters": counters})
        return
    table = Table(title=f"queue {q.keys.queue}")
    table.add_column("state")
    table.add_column("jobs", justify="right")
    for name in STATE_ORDER:
        table.add_row(name, str(counts[name]))
    out.print(table)
    ctab = Table(title="counters (all processes)")
    ctab.add_column("counter")
    ctab.add_column("value", justify="right")
    for name in sorted(k for k in counters if not k.startswith(("dur", "outcome:"))):
        ctab.add_row(name, str(counters[name]))
    out.print(ctab)


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(enqueue)
    app.command()(status)
