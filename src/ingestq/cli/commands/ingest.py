"""Ingestion: ingest, watch, search, verify."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ingestq.cli.context import EXIT_PROBLEM, EXIT_USAGE, err, out, print_json, state, usage_error

if TYPE_CHECKING:  # redis, numpy, SQLite and the embedders: imported by the commands using them
    from rich.progress import Progress

    from ingestq.core.queue import Enqueued, JobSpec, Queue
    from ingestq.ingest.parsing.identity import Labels
    from ingestq.ingest.pipeline import Pipeline
    from ingestq.ingest.verify import VerifyReport
    from ingestq.ops.follow import FollowResult

BATCH = 500


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=False)


def enqueue_files(q: Queue, files: list[str], *, force: bool, quiet: bool,
                  checksums: dict[str, str | None] | None = None,
                  labels: dict[str, Labels] | None = None) -> list[Enqueued]:
    """Enqueue one ``file`` job per file (under its labels), in batches, with a progress bar
    on stderr."""
    from ingestq.ingest.files import job_spec

    results: list[Enqueued] = []
    sums = checksums or {}
    named = labels or {}
    with _progress() as bar:
        task = bar.add_task("enqueue", total=len(files), visible=not quiet)
        for start in range(0, len(files), BATCH):
            specs: list[JobSpec] = [job_spec(f, force=force, content_checksum=sums.get(f) or "",
                                             labels=named.get(f))
                                    for f in files[start:start + BATCH]]
            results.extend(q.enqueue_many(specs))
            bar.update(task, advance=len(specs))
    return results


def _checksums(files: list[str], quiet: bool) -> dict[str, str | None]:
    # Confined to the roots the workers will enforce, and never reading a FIFO or device.
    from ingestq.ingest.files import checksum

    pipeline = state.config.ingest.pipeline
    sums: dict[str, str | None] = {}
    with _progress() as bar:
        task = bar.add_task("check", total=len(files), visible=not quiet)
        for f in files:
            sums[f] = checksum(f, pipeline.root_paths, pipeline.max_file_bytes)
            bar.update(task, advance=1)
    return sums


def _follow(q: Queue, ids: list[str], quiet: bool) -> FollowResult:
    from ingestq.ops.follow import follow

    with _progress() as bar:
        task = bar.add_task("ingest", total=len(ids), visible=not quiet)
        return follow(q, ids, on_progress=lambda n, total: bar.update(task, completed=n))


def process_files(q: Queue, ids: list[str], *, wait: bool, workers: int, quiet: bool
                  ) -> FollowResult | None:
    """See file jobs through: on the embedded default with no live worker, run ``workers``
    local ones and follow the jobs; with a configured Redis and none, warn that they wait.
    Follows (and returns the outcome) when ``wait`` or when local workers run them."""
    from ingestq.core import worker_registry
    from ingestq.ingest.files import FILE_KIND
    from ingestq.ops.follow import LocalWorkers
    from ingestq.ops.local_workers import local_layout

    local = None
    # Nothing enqueued: nothing to follow (an empty follow returns at once), no worker to start.
    if ids and not worker_registry.live_workers(q):
        if q.settings.redis.url:
            err.print("[yellow]warning:[/yellow] no live worker: the jobs wait until one starts "
                      "(ingestctl worker)")
        else:
            cfg = state.config.file
            local = LocalWorkers(local_layout(state.config.ingest, workers), kinds=FILE_KIND,
                                 config_file=str(cfg) if cfg else None)
            wait = True
    try:
        return _follow(q, ids, quiet=quiet) if wait else None
    finally:
        if local is not None:
            local.stop()


def ingest(
    paths: list[str] = typer.Argument(..., help="Files, directories (recursive) or globs."),
    pattern: str = typer.Option(None, "--glob", "-g",
                                help="Only files matching this pattern inside directories."),
    wait: bool = typer.Option(False, "--wait", "-w",
                              help="Follow the jobs; exit 1 if any ended dead."),
    force: bool = typer.Option(False, "--force",
                               help="Enqueue unchanged files too, and rewrite them."),
    workers: int = typer.Option(min(2, os.cpu_count() or 1), "--workers",
                                help="Local workers to run when none is alive (embedded); "
                                     "with a local model, one process with their slots."),
    collection: str = typer.Option(None, "--collection",
                                   help="Collection label for these files (default: their "
                                        "root's, from ingest.pipeline.roots)."),
    version: str = typer.Option(None, "--version",
                                help="Version label for these files, any string (default: "
                                     "their root's). Another version of the same files is "
                                     "another set of documents."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Enqueue files for ingestion; on the embedded default with no live worker, process them here.

    Files whose content and embedder match what the store already holds (under the same
    collection and version) are not enqueued (reported as unchanged); --force enqueues them too.

    Example: ingestctl ingest docs/ --glob '*.md' --collection fastapi --version 0.115 --wait
    """
    from ingestq.ingest.files import expand, labels_of, unchanged_files

    ingest_settings = state.config.ingest
    found = expand(paths, pattern)
    try:
        labels = labels_of(found.files, ingest_settings.pipeline, collection, version)
    except ValueError as exc:
        usage_error(str(exc), as_json=as_json)
    q = state.queue
    for missing in found.missing:
        err.print(f"[yellow]skipped:[/yellow] {missing} does not exist", highlight=False)
    if not found.files:
        err.print("nothing to ingest: no document files found in the given paths")
        raise typer.Exit(EXIT_USAGE)
    sums = _checksums(found.files, quiet=as_json)
    unchanged: set[str] = set()
    if not force:
        unchanged = unchanged_files(sums, ingest_settings.pipeline,
                                    Path(ingest_settings.data_dir), labels)
    todo = [f for f in found.files if f not in unchanged]
    results = enqueue_files(q, todo, force=force, quiet=as_json, checksums=sums,
                            labels=labels) if todo else []
    outcome = process_files(q, [r.id for r in results], wait=wait, workers=workers,
                            quiet=as_json)
    _report(found.files, results, outcome, as_json, found.duplicates, len(unchanged))
    if outcome is not None and outcome.dead:
        raise typer.Exit(EXIT_PROBLEM)


def _report(files: list[str], results: list[Enqueued], outcome: FollowResult | None,
            as_json: bool, duplicates: int, unchanged: int) -> None:
    created = sum(r.created for r in results)
    summary: dict[str, object] = {
        "files": len(files), "unchanged": unchanged, "enqueued": created,
        "already_queued": len(results) - created,
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
    out.print(f"{len(files)} file(s): {unchanged} unchanged (not enqueued), {created} enqueued, "
              f"{len(results) - created} already queued")
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
    collection: str = typer.Option(None, "--collection",
                                   help="Collection label (default: each file's root's)."),
    version: str = typer.Option(None, "--version",
                                help="Version label (default: each file's root's)."),
) -> None:
    """Enqueue new and changed files once they stop changing (moved-in files included).

    Example: ingestctl watch docs/ --settle 5
    """
    from ingestq.ingest.parsing.identity import Labels
    from ingestq.ingest.watch import Watcher

    try:
        Labels(collection or "", version or "")  # refused before the first scan, not at it
    except ValueError as exc:
        usage_error(str(exc))
    q = state.queue
    watcher = Watcher(directory, pattern=pattern, settle_seconds=settle)
    err.print(f"watching {directory} (settle {settle:g} s); Ctrl-C to stop")
    try:
        while True:
            ready = watcher.scan(time.monotonic())
            if ready:
                _enqueue_changed(q, ready, collection, version)
            time.sleep(interval)
    except KeyboardInterrupt:
        err.print("stopped")


def _enqueue_changed(q: Queue, ready: list[str], collection: str | None = None,
                     version: str | None = None) -> None:
    """Enqueue the settled files whose content changed: the same test as `ingest` (checksum and
    embedder against the manifest), so starting `watch` on an ingested tree enqueues nothing."""
    from ingestq.ingest.files import checksum, job_spec, labels_of, unchanged_files

    ingest_settings = state.config.ingest
    pipeline = ingest_settings.pipeline  # checksums read only what workers may read
    sums = {p: checksum(p, pipeline.root_paths, pipeline.max_file_bytes) for p in ready}
    labels = labels_of(ready, pipeline, collection, version)
    unchanged = unchanged_files(sums, pipeline, Path(ingest_settings.data_dir), labels)
    todo = [p for p in ready if p not in unchanged]
    for path in ready:
        if path in unchanged:
            out.print(f"unchanged {path} (not enqueued)", highlight=False)
    specs = [job_spec(p, content_checksum=sums[p], roots=pipeline.root_paths, labels=labels[p])
             for p in todo]
    for r, path in zip(q.enqueue_many(specs) if specs else [], todo, strict=True):
        out.print(f"{'enqueued' if r.created else 'already queued'} {path} (job {r.id})",
                  highlight=False)


def _pipeline() -> Pipeline:
    from ingestq.ingest.pipeline import Pipeline

    ingest_settings = state.config.ingest
    return Pipeline.open(ingest_settings.pipeline, Path(ingest_settings.data_dir))


def search(
    query: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=200, help="Results to show."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable results."),
    local: bool = typer.Option(False, "--local",
                               help="Search in this process even when a service runs."),
    collection: str = typer.Option(None, "--collection",
                                   help="Only this collection (exact). Default: every one."),
    version: str = typer.Option(None, "--version",
                                help="Only this version (exact), or a prefix ending in '*' "
                                     "('3.*'); '*' is every version. Default: each "
                                     "collection's newest (the version ingested last)."),
) -> None:
    """Search what was ingested: BM25, fused with vectors when the embedder adds to them.

    A running service (`ingestctl serve` or `up`) answers when it serves the same store: its
    model is already loaded.

    Example: ingestctl search "how do I declare a request body" --k 5 --version '0.115.*'
    """
    from ingestq.cli.warm_search import ask_service
    from ingestq.ingest.scope import SelectionError, check_selection

    try:
        check_selection(collection, version)
    except SelectionError as exc:
        usage_error(str(exc), as_json=as_json)
    settings = state.config.ingest
    results = None if local else ask_service(settings, query, k, collection, version)
    if results is None:
        results = _search_here(query, k, collection, version)
    if as_json:
        print_json(results)
        return
    if not results:
        if collection is not None or version is not None:
            out.print(f"no results in collection {collection or '(any)'!s}, version "
                      f"{version or '(newest)'!s}; `ingestctl search` without them, or with "
                      "--version '*', reads more", highlight=False, markup=False)
        else:
            out.print("no results (has anything been ingested? ingestctl ingest PATH)")
        raise typer.Exit(EXIT_PROBLEM)
    for rank, r in enumerate(results, 1):
        where = " > ".join(r["heading_path"]) or r["title"]
        anchor = f"#{r['anchor']}" if r["anchor"] else ""
        out.print(f"[bold]{rank}. {where}[/bold]  [dim]{r['score']:.4f}[/dim]")
        labels = " · ".join(v for v in (r.get("collection"), r.get("version")) if v)
        out.print(f"   {r['source_path']}{anchor}" + (f"  [{labels}]" if labels else ""),
                  highlight=False, markup=False)
        out.print(f"   {' '.join(r['snippet'].split())}", highlight=False, markup=False)
    if _lexical_only():
        err.print("lexical search only (BM25): the default hashing embedder adds nothing to it. "
                  "For search by meaning: pip install 'ingestq[embed]' and set "
                  "pipeline.embedder.kind: sentence-transformers (docs/search.md)",
                  style="dim", markup=False, highlight=False)


def _search_here(query: str, k: int, collection: str | None, version: str | None
                 ) -> list[dict[str, Any]]:
    from ingestq.ingest.search import search as run_search

    started = time.perf_counter()
    results = [dataclasses.asdict(r) for r in run_search(_pipeline(), query, k,
                                                         collection=collection, version=version)]
    if not _lexical_only():
        service = state.config.ingest.service
        err.print(f"searched in this process ({time.perf_counter() - started:.1f} s, the "
                  f"embedder loaded for this one query); no service answered on "
                  f"{service.host}:{service.port}: `ingestctl up` or `ingestctl serve` keeps "
                  "it loaded", style="dim", markup=False, highlight=False)
    return results


def _lexical_only() -> bool:
    from ingestq.ingest.fusion import fusion_weight

    return fusion_weight(state.config.ingest.pipeline) == 0


def verify(
    repair: bool = typer.Option(False, "--repair",
                                help="Re-ingest drifted documents and delete extras; on the "
                                     "embedded default with no live worker, run them here."),
    workers: int = typer.Option(min(2, os.cpu_count() or 1), "--workers",
                                help="Local workers for --repair when none is alive (embedded)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable report."),
) -> None:
    """Compare every store with the source files; exit 1 when drift is found (with --repair:
    when the repair failed).

    Example: ingestctl verify --repair
    """
    from ingestq.ingest.files import job_spec
    from ingestq.ingest.verify import verify as run_verify

    report = run_verify(_pipeline(), repair=repair)
    enqueued: list[Enqueued] = []
    outcome = None
    if repair and report.reingest:
        q = state.queue
        enqueued = q.enqueue_many([job_spec(s.path, force=True, labels=s.labels)
                                   for s in report.reingest])
        outcome = process_files(q, [e.id for e in enqueued], wait=False, workers=workers,
                                quiet=as_json)
    if as_json:
        print_json({"ok": report.ok, "checked_documents": report.checked_documents,
                     "drift": [dataclasses.asdict(d) for d in report.drift],
                     "reingest_paths": list(report.reingest_paths),
                     "reingest": [dataclasses.asdict(s) for s in report.reingest],
                     "delete_ids": list(report.delete_ids), "unreadable": list(report.unreadable),
                     "deleted": report.deleted, "enqueued": [e.id for e in enqueued]})
    else:
        _render_verify(report, repair, len(enqueued), outcome)
    failed = outcome is not None and bool(outcome.dead)
    if failed or (not repair and not report.ok):
        raise typer.Exit(EXIT_PROBLEM)


def _render_verify(report: VerifyReport, repair: bool, enqueued: int,
                   outcome: FollowResult | None) -> None:
    out.print(f"checked {report.checked_documents} document(s): "
              f"{'no drift' if report.ok else f'{len(report.drift)} drift(s)'}")
    if report.drift:
        table = Table()
        for col in ("store", "kind", "document", "detail"):
            table.add_column(col)
        for d in report.drift:
            table.add_row(d.store, d.kind, d.source_path or d.document_id, d.detail)
        out.print(table)
    for line in report.unreadable:
        err.print(f"[yellow]unreadable:[/yellow] {line}", highlight=False)
    if not repair:
        if not report.ok:
            out.print("run `ingestctl verify --repair` to fix it")
        return
    ran = ("" if outcome is None else
           f": {outcome.done} done, {len(outcome.dead)} dead" if enqueued else "")
    out.print(f"repair: {enqueued} re-ingest job(s) enqueued{ran}, {report.deleted} extra "
              "document(s) deleted")


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(ingest)
    app.command()(watch)
    app.command()(search)
    app.command()(verify)
