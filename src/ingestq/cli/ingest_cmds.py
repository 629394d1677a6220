"""Ingestion: ingest, watch (and search, verify)."""

from __future__ import annotations

import os
import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingestq import registry
from ingestq.cli.context import EXIT_PROBLEM, EXIT_USAGE, err, out, print_json, state
from ingestq.follow import FollowResult, LocalWorkers, follow
from ingestq.ingest.files import FILE_KIND, expand, job_spec
from ingestq.queue import Enqueued, JobSpec, Queue

BATCH = 500


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=False)


def enqueue_files(q: Queue, files: list[str], *, force: bool, quiet: bool) -> list[Enqueued]:
    """Enqueue one ``file`` job per file, in batches, with a progress bar on stderr."""
    results: list[Enqueued] = []
    with _progress() as bar:
        task = bar.add_task("enqueue", total=len(files), visible=not quiet)
        for start in range(0, len(files), BATCH):
            specs: list[JobSpec] = [job_spec(f, force=force) for f in files[start:start + BATCH]]
            results.extend(q.enqueue_many(specs))
            bar.update(task, advance=len(specs))
    return results


def _follow(q: Queue, ids: list[str], quiet: bool) -> FollowResult:
    with _progress() as bar:
        task = bar.add_task("ingest", total=len(ids), visible=not quiet)
        return follow(q, ids, on_progress=lambda n, total: bar.update(task, completed=n))


def ingest(
    paths: list[str] = typer.Argument(..., help="Files, directories (recursive) or globs."),
    pattern: str = typer.Option(None, "--glob", "-g",
                                help="Only files matching this pattern inside directories."),
    wait: bool = typer.Option(False, "--wait", "-w",
                              help="Follow the jobs; exit 1 if any ended dead."),
    force: bool = typer.Option(False, "--force", help="Rewrite even unchanged files."),
    workers: int = typer.Option(min(2, os.cpu_count() or 1), "--workers",
                                help="Local workers to run when none is alive (embedded)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Enqueue files for ingestion; on the embedded default with no live worker, process them here.

    Example: ingestctl ingest docs/ --glob '*.md' --wait
    """
    q = state.queue
    found = expand(paths, pattern)
    for missing in found.missing:
        err.print(f"[yellow]skipped:[/yellow] {missing} does not exist", highlight=False)
    if not found.files:
        err.print("nothing to ingest: no document files found in the given paths")
        raise typer.Exit(EXIT_USAGE)
    results = enqueue_files(q, found.files, force=force, quiet=as_json)
    ids = [r.id for r in results]
    local = None
    if not registry.live_workers(q):
        if q.settings.redis.url:
            err.print("[yellow]warning:[/yellow] no live worker: the jobs wait until one starts "
                      "(ingestctl worker)")
        else:
            cfg = state.config.file
            local = LocalWorkers(workers, kinds=FILE_KIND, config_file=str(cfg) if cfg else None)
            wait = True
    try:
        outcome = _follow(q, ids, quiet=as_json) if wait else None
    finally:
        if local is not None:
            local.stop()
    _report(found.files, results, outcome, as_json, found.duplicates)
    if outcome is not None and outcome.dead:
        raise typer.Exit(EXIT_PROBLEM)


def _report(files: list[str], results: list[Enqueued], outcome: FollowResult | None,
            as_json: bool, duplicates: int) -> None:
    created = sum(r.created for r in results)
    summary: dict[str, object] = {
        "files": len(files), "enqueued": created, "already_queued": len(results) - created,
        "duplicate_paths": duplicates, "job_ids": [r.id for r in results]}
    if outcome is not None:
        skipped = sum(1 for j in outcome.results
                      if isinstance(j.result, dict) and j.result.get("status") == "skipped")
        summary.update({"done": outcome.done, "dead": len(outcome.dead), "skipped": skipped,
                        "dead_jobs": [{"id": j.id, "path": j.payload.get("path"),
                                       "reason": j.dead_reason, "error": j.last_error}
                                      for j in outcome.dead]})
    if as_json:
        print_json(summary)
        return
    out.print(f"{len(files)} file(s): {created} enqueued, {len(results) - created} already queued")
    if outcome is None:
        return
    skipped = sum(1 for j in outcome.results
                  if isinstance(j.result, dict) and j.result.get("status") == "skipped")
    out.print(f"{outcome.done} done ({skipped} unchanged, skipped), {len(outcome.dead)} dead")
    if outcome.dead:
        table = Table(title="dead jobs")
        for col in ("job", "path", "reason", "error"):
            table.add_column(col)
        for j in outcome.dead:
            table.add_row(j.id, str(j.payload.get("path")), j.dead_reason or "",
                          j.last_error or "")
        out.print(table)


def watch(
    directory: str = typer.Argument(..., help="Folder to watch (recursive)."),
    pattern: str = typer.Option(None, "--glob", "-g", help="Only files matching this pattern."),
    settle: float = typer.Option(2.0, "--settle", min=0.0,
                                 help="Seconds a file's size and mtime must stay unchanged."),
    interval: float = typer.Option(1.0, "--interval", min=0.1, help="Seconds between scans."),
) -> None:
    """Enqueue new and changed files once they stop changing (moved-in files included).

    Example: ingestctl watch docs/ --settle 5
    """
    from ingestq.ingest.watch import Watcher

    q = state.queue
    watcher = Watcher(directory, pattern=pattern, settle_seconds=settle)
    err.print(f"watching {directory} (settle {settle:g} s); Ctrl-C to stop")
    try:
        while True:
            ready = watcher.scan(time.monotonic())
            if ready:
                for r, path in zip(q.enqueue_many([job_spec(p) for p in ready]), ready,
                                   strict=True):
                    out.print(f"{'enqueued' if r.created else 'already queued'} {path} "
                              f"(job {r.id})", highlight=False)
            time.sleep(interval)
    except KeyboardInterrupt:
        err.print("stopped")


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(ingest)
    app.command()(watch)
