"""One consistent read of the queue's state: the single source for `status`, `doctor`, `/readyz`
and `/metrics`.

Three round trips whatever the number of jobs (two when nothing is pending): time, kinds and the
live-worker index; then depths, in-flight ages, stale leases, counters, the reaper record and
each live worker's record; then the enqueue times of the pending heads. Depths are LLEN/ZCARD,
in-flight ages are ZCOUNTs over the claim-time index, counters are one HGETALL. What the figures
*mean* for an operator (workers missing, reaper late, ...) is decided in :mod:`ingestq.ops.health`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from ingestq.core.queries import reply_ms, time_args
from ingestq.core.queue import Queue
from ingestq.core.worker_registry import WorkerInfo, live_window_ms, live_workers, parse_worker

AGE_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0)  # the established processing-age buckets
PRUNE_AFTER_MS = 60_000  # a worker index entry this far past the live window is dropped


@dataclass(frozen=True)
class ReaperRecord:
    """The last reap pass any process recorded."""

    last_run: float | None
    last_reaped: int
    passes: int


@dataclass(frozen=True)
class Snapshot:
    """The queue as one read sees it (times are server seconds)."""

    now: float
    depth: dict[str, int]  # pending, scheduled, processing, done, dead
    pending_by_kind: dict[str, int]  # kinds with at least one pending job
    stale: int  # leases expired and not yet reaped
    age_buckets: list[tuple[float, int]]  # in-flight attempts at most b seconds old
    age_sum: float
    age_count: int
    oldest_pending_age: float  # the longest wait at the head of a pending list
    workers: list[WorkerInfo]  # live: beat within the live window
    reaper: ReaperRecord
    stats: dict[str, str]  # the shared counters, raw
    paused: list[str] = field(default_factory=list)  # kinds no worker claims now

    @property
    def workers_alive(self) -> int:
        """How many workers beat within the live window."""
        return len(self.workers)

    @property
    def stuck_slots(self) -> int:
        """Handler slots the live workers report stuck (a handler that ignores its stop
        signal); summed here so status, doctor and /metrics read one figure."""
        return sum(w.stuck_slots for w in self.workers)

    def unserved_pending(self) -> dict[str, int]:
        """Pending jobs by kind for kinds no live worker takes (they wait until one does)."""
        served = served_by(self.workers)
        return {k: n for k, n in self.pending_by_kind.items()
                if n and served is not None and k not in served}


def take(queue: Queue) -> Snapshot:
    """Read the snapshot (see the module docstring for the round trips)."""
    k, c = queue.keys, queue.client
    first = c.pipeline(transaction=False)
    # execute_command: Cluster pipelines have no eval() (and redis-py leaves it unannotated)
    first.execute_command("EVAL", *time_args(queue))  # type: ignore[no-untyped-call]
    first.smembers(k.kinds)
    first.zrange(k.workers, 0, -1, withscores=True)
    first.smembers(k.paused)
    time_reply, kinds_raw, index, paused = first.execute()
    kinds = sorted(cast(set[str], kinds_raw))
    # A hand-moved test clock wins, as it does for the scripts; else the server's TIME.
    now_ms = queue.clock.now_ms() or reply_ms(time_reply)
    cutoff = now_ms - live_window_ms(queue)
    live_ids = [wid for wid, score in cast(list[tuple[str, float]], index) if score >= cutoff]

    p = c.pipeline(transaction=False)
    for kind in kinds:
        p.llen(k.pending(kind))
    for kind in kinds:
        p.lindex(k.pending(kind), 0)
    for key in (k.scheduled, k.processing, k.done, k.dead):
        p.zcard(key)
    p.zcount(k.processing, "-inf", now_ms)
    for bound in AGE_BUCKETS:
        p.zcount(k.claimed, now_ms - bound * 1000, "+inf")
    p.zcard(k.claimed)
    p.hgetall(k.reaper)
    p.hgetall(k.stats)
    for wid in live_ids:
        p.hgetall(k.worker(wid))
    p.zremrangebyscore(k.workers, "-inf", cutoff - PRUNE_AFTER_MS)  # crashed workers' entries
    res: list[Any] = p.execute()

    n = len(kinds)
    by_kind = {kind: int(x) for kind, x in zip(kinds, res[:n], strict=True) if int(x)}
    heads = [h for h in res[n:2 * n] if h]
    scheduled, processing, done, dead, stale = (int(x) for x in res[2 * n:2 * n + 5])
    i = 2 * n + 5
    cumulative = [int(x) for x in res[i:i + len(AGE_BUCKETS)]]
    i += len(AGE_BUCKETS)
    age_count = int(res[i])
    reaper, stats = cast(dict[str, str], res[i + 1]), cast(dict[str, str], res[i + 2])
    workers = [parse_worker(h) for h in res[i + 3:i + 3 + len(live_ids)] if h]
    claimed_sum = int(stats.get("inflight_claimed_ms", 0))
    age_sum = max(0.0, (age_count * now_ms - claimed_sum) / 1000.0) if age_count else 0.0

    return Snapshot(
        now=now_ms / 1000.0,
        depth={"pending": sum(by_kind.values()), "scheduled": scheduled,
               "processing": processing, "done": done, "dead": dead},
        pending_by_kind=by_kind, stale=stale,
        age_buckets=list(zip(AGE_BUCKETS, cumulative, strict=True)),
        age_sum=age_sum, age_count=age_count,
        oldest_pending_age=_oldest_pending_age(queue, heads, now_ms),
        workers=workers,
        reaper=ReaperRecord(
            last_run=int(reaper["last_run"]) / 1000.0 if reaper.get("last_run") else None,
            last_reaped=int(reaper.get("last_reaped", 0)), passes=int(reaper.get("passes", 0))),
        stats=stats, paused=sorted(cast(set[str], paused)))


def _oldest_pending_age(queue: Queue, heads: list[str], now_ms: int) -> float:
    """Seconds the longest-waiting head of a pending list has waited (one round trip, or none).

    The head of each kind's list is the next to be claimed. This is a *wait* (how long the head
    has been claimable), not a job's age: a job handed back to the head by a release or a reap
    waits from then, so a recovered old job does not page anyone as "the queue is stuck".
    """
    if not heads:
        return 0.0
    pipe = queue.client.pipeline(transaction=False)
    for job_id in heads:
        pipe.hmget(queue.keys.job(job_id), "requeued_at", "enqueued_at")
    times = [int(r or e) for r, e in pipe.execute() if (r or e)]
    return max(0.0, (now_ms - min(times)) / 1000.0) if times else 0.0


def served_by(workers: list[WorkerInfo]) -> set[str] | None:
    """Kinds these workers take; None when one of them takes every kind (no --kinds list)."""
    if any(not w.kinds for w in workers):
        return None
    return {k for w in workers for k in w.kinds}


def unserved_kinds(queue: Queue, kinds: list[str]) -> list[str]:
    """Which of ``kinds`` no live worker takes right now (the enqueue-time warning; it reads
    the worker registry only, not a whole snapshot)."""
    served = served_by(live_workers(queue))
    return [] if served is None else sorted(set(kinds) - served)
