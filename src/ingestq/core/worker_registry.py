"""The live-worker registry: who is working, where, on what, and when each last beat."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any, cast

from ingestq import __version__
from ingestq.core.queries import server_time_ms
from ingestq.core.queue import Queue


@dataclass(frozen=True)
class WorkerInfo:
    """One live worker as it published itself."""

    id: str
    host: str
    pid: int
    started: float
    version: str
    concurrency: int
    kinds: str
    isolation: str
    current_jobs: int
    last_beat: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the documented shape of `workers --json`)."""
        return dict(self.__dict__)


def new_worker_id() -> str:
    """host:pid:random, unique enough to tell restarts apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(2).hex()}"


def publish(queue: Queue, worker_id: str, *, concurrency: int, kinds: list[str],
            isolation: str) -> None:
    """Announce a worker (its beats keep the record alive; see heartbeat.lua)."""
    key = queue.keys.worker(worker_id)
    now = server_time_ms(queue)
    pipe = queue.client.pipeline(transaction=True)
    pipe.hset(key, mapping={
        "id": worker_id, "host": socket.gethostname(), "pid": os.getpid(),
        "started": now, "version": __version__, "concurrency": concurrency,
        "kinds": ",".join(kinds), "isolation": isolation, "current_jobs": 0, "last_beat": now})
    pipe.pexpire(key, int(queue.settings.queue_recovery.lease_seconds * 3000))
    pipe.zadd(queue.keys.workers, {worker_id: now})
    pipe.execute()


def withdraw(queue: Queue, worker_id: str) -> None:
    """Remove a worker that stopped gracefully."""
    pipe = queue.client.pipeline(transaction=True)
    pipe.zrem(queue.keys.workers, worker_id)
    pipe.delete(queue.keys.worker(worker_id))
    pipe.execute()


def live_window_ms(queue: Queue) -> int:
    """A worker is live while its last beat is younger than one lease."""
    rc = queue.settings.queue_recovery
    return int(max(rc.lease_seconds, 2 * rc.heartbeat_seconds) * 1000)


def live_workers(queue: Queue) -> list[WorkerInfo]:
    """Workers that beat within the live window; older entries are pruned."""
    now = server_time_ms(queue)
    cutoff = now - live_window_ms(queue)
    queue.client.zremrangebyscore(queue.keys.workers, "-inf", cutoff - 60_000)
    ids = cast(list[str], queue.client.zrangebyscore(queue.keys.workers, cutoff, "+inf"))
    pipe = queue.client.pipeline(transaction=False)
    for wid in ids:
        pipe.hgetall(queue.keys.worker(wid))
    out = []
    for h in pipe.execute():
        if not h:
            continue
        out.append(WorkerInfo(
            id=h["id"], host=h.get("host", ""), pid=int(h.get("pid", 0)),
            started=int(h.get("started", 0)) / 1000.0, version=h.get("version", ""),
            concurrency=int(h.get("concurrency", 0)), kinds=h.get("kinds", ""),
            isolation=h.get("isolation", ""), current_jobs=int(h.get("current_jobs", 0)),
            last_beat=int(h.get("last_beat", 0)) / 1000.0))
    return out


def wait_until(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or timeout (used by tests and the CLI's waits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
