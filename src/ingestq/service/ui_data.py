"""What the dashboard shows. The overview, polled every 2 s, costs a fixed number of round
trips whatever the number of jobs (see bench/dashboard.py); the other views are bounded queries.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from ingestq.core import queries
from ingestq.core.events import events_of
from ingestq.core.job import Job, JobState
from ingestq.core.queue import Queue
from ingestq.core.snapshot import Snapshot, take
from ingestq.core.worker_registry import live_workers
from ingestq.ops.status import reaper_view, warnings_for

HISTORY_MINUTES = 60  # the chart's span
WORKER_JOBS_MAX = 1000  # in-flight jobs read to say which worker holds what
TIMELINE_SCAN = 2000  # newest stream entries searched for one job's events
PAGE_MAX_END = 10_000  # deepest job listed by paging (page * size)


def overview(queue: Queue) -> dict[str, Any]:
    """Depths, per-kind rows, workers, reaper, the per-minute chart and the status warnings."""
    snap = take(queue)
    reaper = reaper_view(queue, snap)
    warnings = warnings_for(queue, snap)
    return {
        "queue": queue.keys.queue, "now": snap.now, "depth": snap.depth,
        "oldest_pending_age": round(snap.oldest_pending_age, 3), "stale": snap.stale,
        "workers_alive": snap.workers_alive,
        "reaper": {"enabled": reaper.enabled, "last_run": reaper.last_run,
                   "seconds_since_last_run": reaper.seconds_since_last_run,
                   "last_reaped": reaper.last_reaped, "interval": reaper.interval_seconds},
        "kinds": _kind_rows(snap), "paused": snap.paused, "warnings": warnings,
        "per_minute": minute_chart(queue, snap),
    }


def _kind_rows(snap: Snapshot) -> list[dict[str, Any]]:
    """Pending depth and lifetime outcomes per kind (other states have no per-kind index): the
    kinds the live workers take, so one can be paused before its first job, and any kind the
    queue holds or has run."""
    names = set(snap.pending_by_kind) | set(snap.paused)
    names |= {k for w in snap.workers for k in w.kinds}
    names |= {f.split(":")[1] for f in snap.stats if f.startswith("outcome:")}
    rows = []
    for kind in sorted(names):
        def total(outcome: str, kind: str = kind) -> int:
            return int(snap.stats.get(f"outcome:{kind}:{outcome}", 0))
        rows.append({"kind": kind, "pending": snap.pending_by_kind.get(kind, 0),
                     "paused": kind in snap.paused, "completed": total("completed"),
                     "failed": total("failed"), "dead": total("dead"),
                     "cancelled": total("cancelled")})
    return rows


def minute_chart(queue: Queue, snap: Snapshot) -> list[dict[str, Any]]:
    """Completed and failed attempts per minute over the last hour.

    The cumulative counters are sampled into a small hash the first time each minute that
    anyone reads the overview or /metrics (Prometheus scrapes keep it going); a minute is the
    difference of two samples. Minutes without both samples are null (no data), never 0.
    """
    minute, now_value = _sample(snap)
    pipe = queue.client.pipeline(transaction=False)
    pipe.hsetnx(queue.keys.history, str(minute), now_value)
    pipe.hgetall(queue.keys.history)
    added, raw = pipe.execute()
    samples = {int(m): [int(x) for x in v.split(",")] for m, v in
               cast(dict[str, str], raw).items()}
    if added:
        _trim_history(queue, minute, list(samples))
    samples[minute + 1] = [int(x) for x in now_value.split(",")]  # the minute so far
    out = []
    for m in range(minute - HISTORY_MINUTES + 1, minute + 1):
        a, b = samples.get(m), samples.get(m + 1)
        ok = a is not None and b is not None and b[0] >= a[0] and b[1] >= a[1]
        out.append({"t": m * 60, "completed": b[0] - a[0] if ok and a and b else None,
                    "failed": b[1] - a[1] if ok and a and b else None})
    return out


def _sample(snap: Snapshot) -> tuple[int, str]:
    return int(snap.now // 60), f"{snap.stats.get('completed', 0)},{snap.stats.get('failed', 0)}"


def _trim_history(queue: Queue, minute: int, minutes: list[int]) -> None:
    old = [str(m) for m in minutes if m < minute - HISTORY_MINUTES - 1]
    if old:
        queue.client.hdel(queue.keys.history, *old)


def sample_minute(queue: Queue, snap: Snapshot) -> None:
    """Record this minute's counters for the chart (one HSETNX; a trim once a minute)."""
    minute, value = _sample(snap)
    if queue.client.hsetnx(queue.keys.history, str(minute), value):
        _trim_history(queue, minute, [int(m) for m in
                                      cast(list[str], queue.client.hkeys(queue.keys.history))])


def workers(queue: Queue) -> list[dict[str, Any]]:
    """Live workers, each with the jobs it holds (the oldest WORKER_JOBS_MAX in flight)."""
    now = queries.server_time_ms(queue) / 1000.0
    ids = cast(list[str], queue.client.zrange(queue.keys.processing, 0, WORKER_JOBS_MAX - 1))
    pipe = queue.client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(queue.keys.job(job_id), "worker", "kind", "claimed_at", "progress_done",
                   "progress_total", "progress_note")
    held: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for job_id, (worker, kind, claimed, done, total, note) in zip(ids, pipe.execute(),
                                                                  strict=True):
        if worker:
            held[worker].append({
                "id": job_id, "kind": kind,
                "running_for": round(now - int(claimed) / 1000.0, 1) if claimed else None,
                "progress": None if done is None else {"done": float(done),
                                                       "total": float(total or 0),
                                                       "note": note or None}})
    return [{**w.to_dict(), "jobs": held.get(w.id, []),
             "seconds_since_beat": round(now - w.last_beat, 1)} for w in live_workers(queue)]


def job_page(queue: Queue, state: JobState, *, kind: str | None, older_than: float | None,
             reason: str | None, page: int, size: int) -> dict[str, Any]:
    """One page of jobs in a state, oldest first, and whether another page follows."""
    start = min(page * size, PAGE_MAX_END)
    jobs = queries.list_jobs(queue, state, kind=kind, reason=reason, older_than=older_than,
                             limit=start + size + 1)
    rows = jobs[start:start + size]
    return {"jobs": [j.to_dict() for j in rows], "page": page, "size": size,
            "more": len(jobs) > start + size and start + size < PAGE_MAX_END,
            "total_in_state": queries.counts(queue)[state.value]}


def timeline(queue: Queue, job: Job) -> list[dict[str, Any]]:
    """This job's lifecycle events still in the stream (the newest TIMELINE_SCAN entries)."""
    entries = cast(list[tuple[str, dict[str, str]]],
                   queue.client.xrevrange(queue.keys.events, count=TIMELINE_SCAN))
    out: list[dict[str, Any]] = []
    for entry_id, raw in reversed(entries):
        if job.id not in (raw.get("job"), *raw.get("jobs", "").split(",")):
            continue
        out.extend(ev.to_dict() for ev in events_of(entry_id, raw) if ev.job == job.id)
    return out
