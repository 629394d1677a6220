"""Running things: worker, reaper, workers."""

from __future__ import annotations

import typer
from rich.table import Table

from ingestq.cli.context import out, print_json, state, usage_error

# What every `ingestctl worker` carries besides the built-in kinds and its --import modules: the
# pipeline's `file` kind and attempt spans (when opentelemetry is installed). Process-mode slots
# import the same list.
APP_MODULES = ("ingestq.ingest.file_kind", "ingestq.tracing")


def worker(
    concurrency: int = typer.Option(None, "--concurrency", "-n", min=1,
                                    help="Jobs in flight (default: ingest.worker.concurrency)."),
    kinds: str = typer.Option(None, "--kinds", help="Comma-separated kinds to take."),
    burst: bool = typer.Option(False, "--burst",
                               help="Exit 0 once nothing is pending, scheduled or in flight."),
    isolation: str = typer.Option(None, "--isolation",
                                  help="thread or process (default: ingest.worker.isolation)."),
    imports: list[str] = typer.Option([], "--import", "-i",
                                      help="Module that registers handlers (repeatable)."),
    no_reaper: bool = typer.Option(False, "--no-reaper", help="Do not reap in this worker."),
    metrics_port: int = typer.Option(None, "--metrics-port",
                                     help="Serve this process's metrics on PORT "
                                          "(default ingest.worker.metrics_port; off)."),
    metrics_addr: str = typer.Option(None, "--metrics-addr",
                                     help="Address for --metrics-port (default "
                                          "ingest.worker.metrics_addr: 127.0.0.1)."),
) -> None:
    """Run a worker until SIGTERM/SIGINT (graceful), a second signal (release all), or --burst.

    Example: ingestctl worker --concurrency 4 --kinds file,noop
    """
    import signal

    # A signal during start-up (imports, connecting, loading handler modules) would otherwise
    # kill the process with -15; hold it and hand it to the worker, which then stops at once.
    early: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda num, _frame: early.append(num))

    from ingestq.threads import embed_in_bulk
    from ingestq.worker.handlers import default_registry, load_modules
    from ingestq.worker.loop import Worker

    embed_in_bulk()  # a local model here gets the cores: this process embeds whole documents

    if isolation not in (None, "thread", "process"):
        raise typer.BadParameter("must be thread or process", param_hint="--isolation")
    modules = [*APP_MODULES, *imports]
    try:
        load_modules(modules)
    except ImportError as exc:
        usage_error(f"--import: cannot import {exc.name or exc}: {exc}")
    unknown = [k for k in kinds.split(",") if default_registry.get(k) is None] if kinds else []
    if unknown:
        usage_error(f"--kinds: no handler registered for {', '.join(unknown)}; known: "
                    f"{', '.join(default_registry.kinds())} (--import the module that "
                    "registers yours)")
    state.warn_risks = True  # a worker runs for long: say once, at start, what could lose jobs
    port = metrics_port or state.config.ingest.worker.metrics_port
    if port:
        from ingestq.service.metrics import start_worker_metrics_server

        start_worker_metrics_server(port, metrics_addr or state.config.ingest.worker.metrics_addr)
    w = Worker(state.queue, default_registry, concurrency=concurrency,
               kinds=kinds.split(",") if kinds else None, isolation=isolation, burst=burst,
               modules=modules, run_reaper=False if no_reaper else None,
               settings=state.config.ingest.worker)
    for _ in early:
        w.request_stop()
    raise typer.Exit(w.run())


def reaper(
    once: bool = typer.Option(False, "--once", help="One pass, then exit."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be reaped."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable pass results."),
) -> None:
    """Recover expired leases. Any number of reapers may run at once.

    Example: ingestctl reaper --once --dry-run --json
    """
    import signal
    import threading

    from ingestq.worker.reaper import reap_until_stopped

    q = state.queue
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for result in reap_until_stopped(q, stop, once=once or dry_run or False,
                                     dry_run=dry_run or False):
        if as_json:
            print_json({"dry_run": result.dry_run, "total": result.total,
                        "actions": result.actions, "seconds": round(result.seconds, 6),
                        "jobs": [{"id": i, "action": a} for i, a in result.jobs]})
        elif once or result.total:
            actions = ", ".join(f"{n} {a}" for a, n in sorted(result.actions.items()))
            out.print(f"{'would reap' if dry_run else 'reaped'} {result.total} job(s)"
                      f"{f' ({actions})' if actions else ''} in {result.seconds * 1000:.1f} ms",
                      highlight=False)


def workers(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
            ) -> None:
    """List live workers (a worker that stops beating drops out within one lease).

    Example: ingestctl workers --json
    """
    from ingestq.core import worker_registry

    live = worker_registry.live_workers(state.queue)
    if as_json:
        print_json([w.to_dict() for w in live])
        return
    table = Table(title=f"{len(live)} live worker(s)")
    for col in ("id", "host", "pid", "version", "concurrency", "jobs", "kinds", "last beat"):
        table.add_column(col)
    import time

    for w in live:
        table.add_row(w.id, w.host, str(w.pid), w.version, str(w.concurrency),
                      str(w.current_jobs), ",".join(w.kinds) or "*",
                      f"{max(0.0, time.time() - w.last_beat):.1f}s ago")
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(worker)
    app.command()(reaper)
    app.command()(workers)
