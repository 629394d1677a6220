"""Queue runs for bench/ingest.py: enqueue a corpus, drain it with real `ingestctl worker`s.

A first run enqueues every file as `ingestctl ingest` does on an empty store (``files.expand`` +
``files.job_spec`` + ``Queue.enqueue_many`` in batches of 500), then starts N ``ingestctl worker
--burst --kinds file`` processes and waits for them to exit. A re-ingest runs the real
``ingestctl ingest CORPUS --json --workers N`` (which enqueues only changed files and, with no
live worker, drains them itself); the "jobs" re-ingest enqueues every file regardless (as
``watch``, ``enqueue`` or a CLI that cannot see the manifest do) and measures the workers' own
skip. Peak memory is the kernel's own high-water mark (VmHWM)
of each worker, polled while it runs, so a short spike between polls is not missed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingestq.config import load_config
from ingestq.core.connection import connect
from ingestq.core.embedded import EmbeddedServer
from ingestq.core.queue import JobSpec, Queue
from ingestq.ingest.files import expand, job_spec
from ingestq.ingest.settings import SQLITE_FILE_NAME
from ingestq.ops.follow import follow

ENQUEUE_BATCH = 500  # the batch `ingestctl ingest` uses
POLL_SECONDS = 0.2
QUEUE_NAME = "bench-ingest"


@dataclass
class WorkerProc:
    """One worker process's figures."""

    pid: int
    exit_code: int
    peak_rss_mib: float  # VmHWM: the kernel's high-water mark of resident memory
    cpu_seconds: float  # user + system, all threads, from wait4's rusage


@dataclass
class RunResult:
    """What one drain of the queue measured."""

    label: str
    embedder: str
    workers: int
    threads_per_worker: int | None  # torch intra-op threads (None: torch's default)
    concurrency: int | None  # handler threads per worker (None: the configured default, 8)
    files: int
    enqueue_seconds: float
    wall_seconds: float  # first worker spawned -> last worker exited (includes start-up)
    active_seconds: float  # first job started -> last job finished (server clock)
    first_job_after_seconds: float  # spawn -> first job started: imports (the model loads later)
    others_cores: float  # CPU other processes on the machine used meanwhile, in cores
    done: int
    dead: list[dict[str, Any]]
    skipped: int  # unchanged: not enqueued by `ingestctl ingest`, or skipped by a worker
    written: int
    chunks_embedded: int
    documents: int  # rows in the store after the run
    sections: int
    chunks: int
    worker_procs: list[WorkerProc] = field(default_factory=list)
    unchanged_at_enqueue: int = 0  # files `ingestctl ingest` found unchanged and did not enqueue

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)


def worker_env(data_dir: Path, kind: str, threads: int | None) -> dict[str, str]:
    """The environment of the bench's processes: this data dir, this queue, this embedder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTQ_")}
    env["INGESTQ_DATA_DIR"] = str(data_dir)
    env["INGESTQ_QUEUE__NAME"] = QUEUE_NAME
    env["INGESTQ_PIPELINE__EMBEDDER__KIND"] = kind
    env["INGESTQ_PIPELINE__STORE__SQLITE_PATH"] = str(data_dir / SQLITE_FILE_NAME)
    if threads is not None:
        # torch reads these at import: one intra-op pool per process, sized so the processes
        # together use the machine's cores instead of each claiming all of them.
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    return env


def open_queue(env: dict[str, str]) -> Queue:
    """The bench queue in ``env``'s data dir (starting its embedded server)."""
    settings = load_config(environ=env).ingest
    return Queue(connect(settings), settings)


def enqueue_corpus(queue: Queue, paths: list[str]) -> tuple[list[str], float]:
    """Enqueue one ``file`` job per document, as ``ingestctl ingest`` does; (ids, seconds)."""
    started = time.perf_counter()
    files = expand(paths).files
    ids: list[str] = []
    for start in range(0, len(files), ENQUEUE_BATCH):
        specs: list[JobSpec] = [job_spec(f) for f in files[start : start + ENQUEUE_BATCH]]
        ids.extend(r.id for r in queue.enqueue_many(specs))
    return ids, time.perf_counter() - started


def _vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy since boot (all cores, from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_workers(env: dict[str, str], count: int, log_dir: Path,
                concurrency: int | None = None) -> tuple[float, list[WorkerProc]]:
    """Start ``count`` burst workers, poll their memory, wait for all; (wall seconds, procs)."""
    args = [sys.executable, "-m", "ingestq.cli", "worker", "--burst", "--kinds", "file"]
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    started = time.perf_counter()
    procs = []
    for n in range(count):
        log = open(log_dir / f"worker-{n}.log", "w")  # noqa: SIM115 - closed below
        procs.append((subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT), log))
    out: dict[int, WorkerProc] = {}
    peaks = {p.pid: 0 for p, _ in procs}
    while len(out) < len(procs):
        for p, log in procs:
            if p.pid in out:
                continue
            # VmHWM, not wait4's ru_maxrss: the latter starts from the parent's size at fork.
            peaks[p.pid] = max(peaks[p.pid], _vm_hwm_kib(p.pid))
            # wait4, not Popen.wait: its rusage gives the child's CPU time.
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                log.close()
                out[pid] = WorkerProc(pid, p.returncode, round(peaks[pid] / 1024, 1),
                                      round(usage.ru_utime + usage.ru_stime, 2))
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started, [out[p.pid] for p, _ in procs]


def store_counts(db: Path) -> tuple[int, int, int]:
    """(documents, sections, chunks) in the SQLite store."""
    with sqlite3.connect(db) as conn:
        return tuple(  # type: ignore[return-value]
            int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
            for t in ("documents", "sections", "chunks"))


def drain(label: str, data_dir: Path, kind: str, workers: int, threads: int | None,
          paths: list[str], concurrency: int | None = None) -> RunResult:
    """Enqueue the corpus into ``data_dir``'s queue and drain it with ``workers`` processes."""
    env = worker_env(data_dir, kind, threads)
    queue = open_queue(env)
    ids, enqueue_seconds = enqueue_corpus(queue, paths)
    log_dir = data_dir / "logs" / label
    log_dir.mkdir(parents=True, exist_ok=True)
    spawned_at, busy = time.time(), machine_busy_seconds()
    wall, procs = run_workers(env, workers, log_dir, concurrency)
    busy = machine_busy_seconds() - busy
    outcome = follow(queue, ids, timeout=60)
    jobs = outcome.results
    starts = [j.started_at for j in jobs if j.started_at]
    ends = [j.finished_at for j in jobs if j.finished_at]
    results = [j.result for j in jobs if isinstance(j.result, dict)]
    documents, sections, chunks = store_counts(data_dir / SQLITE_FILE_NAME)
    return RunResult(
        label=label, embedder=kind, workers=workers, threads_per_worker=threads,
        concurrency=concurrency,
        files=len(ids), enqueue_seconds=round(enqueue_seconds, 3), wall_seconds=round(wall, 3),
        active_seconds=round(max(ends) - min(starts), 3) if starts and ends else 0.0,
        first_job_after_seconds=round(min(starts) - spawned_at, 3) if starts else 0.0,
        others_cores=round(max(0.0, busy - sum(p.cpu_seconds for p in procs)) / wall, 2),
        done=outcome.done,
        dead=[{"id": j.id, "path": j.payload.get("path"), "reason": j.dead_reason,
               "error": j.last_error} for j in outcome.dead],
        skipped=sum(1 for r in results if r.get("status") == "skipped"),
        written=sum(1 for r in results if r.get("status") == "written"),
        chunks_embedded=sum(int(r.get("chunks_embedded") or 0) for r in results),
        documents=documents, sections=sections, chunks=chunks, worker_procs=procs)


def reingest_cli(label: str, data_dir: Path, kind: str, workers: int, threads: int | None,
                 paths: list[str]) -> RunResult:
    """Re-ingest as an operator does: ``ingestctl ingest PATH --json``, timed from outside.

    The wall time is the whole command: interpreter start, expansion, hashing, the manifest
    check, enqueueing what changed and, when anything did, draining it with its local workers.
    """
    env = worker_env(data_dir, kind, threads)
    queue = open_queue(env)
    args = [sys.executable, "-m", "ingestq.cli", "ingest", *paths, "--json",
            "--workers", str(workers)]
    busy = machine_busy_seconds()
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600,
                          check=True)
    wall = time.perf_counter() - started
    busy = machine_busy_seconds() - busy
    summary = json.loads(done.stdout)
    outcome = follow(queue, summary["job_ids"], timeout=60)
    jobs = outcome.results
    starts = [j.started_at for j in jobs if j.started_at]
    ends = [j.finished_at for j in jobs if j.finished_at]
    results = [j.result for j in jobs if isinstance(j.result, dict)]
    documents, sections, chunks = store_counts(data_dir / SQLITE_FILE_NAME)
    return RunResult(
        label=label, embedder=kind, workers=workers, threads_per_worker=threads,
        concurrency=None, files=int(summary["files"]), enqueue_seconds=round(wall, 3),
        wall_seconds=round(wall, 3),
        active_seconds=round(max(ends) - min(starts), 3) if starts and ends else 0.0,
        first_job_after_seconds=0.0,
        others_cores=round(max(0.0, busy) / wall, 2),  # includes the command itself
        done=outcome.done,
        dead=[{"id": j.id, "path": j.payload.get("path"), "reason": j.dead_reason,
               "error": j.last_error} for j in outcome.dead],
        skipped=int(summary["unchanged"])
        + sum(1 for r in results if r.get("status") == "skipped"),
        written=sum(1 for r in results if r.get("status") == "written"),
        chunks_embedded=sum(int(r.get("chunks_embedded") or 0) for r in results),
        documents=documents, sections=sections, chunks=chunks,
        unchanged_at_enqueue=int(summary["unchanged"]))


def stop_server(data_dir: Path) -> None:
    """Shut down the data dir's embedded Valkey server (the bench started it)."""
    EmbeddedServer(data_dir).stop()
