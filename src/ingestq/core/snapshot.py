"""One consistent read of everything the metrics and readiness need, in three round trips.

The cost is fixed whatever the number of jobs: depths are LLEN/ZCARD, in-flight ages are
ZCOUNTs over the claim-time index, counters are one HGETALL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from ingestq.core.queue import Queue
from ingestq.core.worker_registry import live_window_ms

AGE_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0)  # the established processing-age buckets


@dataclass(frozen=True)
class Snapshot:
    """The queue as one scrape sees it."""

    now: float
    depth: dict[str, int]  # pending, scheduled, processing, done, dead
    stale: int
    age_buckets: list[tuple[float, int]]
    age_sum: float
    age_count: int
    oldest_pending_age: float
    workers_alive: int
    reaper_last_run: float | None
    stats: dict[str, str]


def take(queue: Queue) -> Snapshot:
    """Read the snapshot: kinds and time, then everything else, then the pending heads."""
    k = queue.keys
    c = queue.client
    first = c.pipeline(transaction=False)
    first.time()
    first.smembers(k.kinds)
    (sec, usec), kinds_raw = first.execute()
    kinds = sorted(cast(set[str], kinds_raw))
    # A hand-moved test clock wins, as it does for the scripts; else the server's TIME.
    now_ms = queue.clock.now_ms() or int(sec) * 1000 + int(usec) // 1000

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
    p.zcount(k.workers, now_ms - live_window_ms(queue), "+inf")
    p.hgetall(k.reaper)
    p.hgetall(k.stats)
    res: list[Any] = p.execute()
    n = len(kinds)
    pending = sum(int(x) for x in res[:n])
    heads = [h for h in res[n:2 * n] if h]
    scheduled, processing, done, dead, stale = (int(x) for x in res[2 * n:2 * n + 5])
    i = 2 * n + 5
    cumulative = [int(x) for x in res[i:i + len(AGE_BUCKETS)]]
    i += len(AGE_BUCKETS)
    age_count, workers = int(res[i]), int(res[i + 1])
    reaper, stats = cast(dict[str, str], res[i + 2]), cast(dict[str, str], res[i + 3])
    claimed_sum = int(stats.get("inflight_claimed_ms", 0))
    age_sum = max(0.0, (age_count * now_ms - claimed_sum) / 1000.0) if age_count else 0.0

    return Snapshot(
        now=now_ms / 1000.0,
        depth={"pending": pending, "scheduled": scheduled, "processing": processing,
               "done": done, "dead": dead},
        stale=stale, age_buckets=list(zip(AGE_BUCKETS, cumulative, strict=True)),
        age_sum=age_sum, age_count=age_count,
        oldest_pending_age=_oldest_pending_age(queue, heads, now_ms),
        workers_alive=workers,
        reaper_last_run=int(reaper["last_run"]) / 1000.0 if reaper.get("last_run") else None,
        stats=stats)


def _oldest_pending_age(queue: Queue, heads: list[str], now_ms: int) -> float:
    """Seconds the longest-waiting head of a pending list has waited (one round trip, or none).

    The head of each kind's list is the next to be claimed; a released job goes back to the
    head, and its wait counts from its release.
    """
    if not heads:
        return 0.0
    pipe = queue.client.pipeline(transaction=False)
    for job_id in heads:
        pipe.hmget(queue.keys.job(job_id), "requeued_at", "enqueued_at")
    times = [int(r or e) for r, e in pipe.execute() if (r or e)]
    return max(0.0, (now_ms - min(times)) / 1000.0) if times else 0.0
