"""Read-only views of a queue: job records, listings, counts and counters.

Nothing here changes state, so plain commands (pipelined) are enough; every read costs a fixed
number of round trips or is bounded by the limit asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ingestq.core.job import Job, JobState
from ingestq.core.queue import Queue
from ingestq.errors import BadRecord, JobNotFound

PAGE = 500


def server_time_ms(queue: Queue) -> int:
    """The queue clock: the hand-set test clock, else the server's TIME."""
    ms = queue.clock.now_ms()
    if ms is not None:
        return ms
    sec, usec = queue.client.time()
    return int(sec) * 1000 + int(usec) // 1000


def decode_job(job_id: str, h: dict[str, str]) -> Job:
    """Decode one stored record; raises BadRecord naming the job when it cannot be."""
    try:
        return Job.from_hash(h)
    except (KeyError, ValueError, TypeError, OverflowError) as exc:
        reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)[:200]
        raise BadRecord(job_id, reason) from None


def get_job(queue: Queue, job_id: str) -> Job:
    """One job record; raises JobNotFound, or BadRecord when it cannot be decoded."""
    h = cast(dict[str, str], queue.client.hgetall(queue.keys.job(job_id)))
    if not h:
        raise JobNotFound(f"job {job_id} does not exist (never enqueued, trimmed or purged)")
    return decode_job(job_id, h)


def get_jobs(queue: Queue, ids: Sequence[str],
             unreadable: list[BadRecord] | None = None) -> list[Job]:
    """Records for these ids, in order, skipping ids whose record is gone.

    A record that cannot be decoded is skipped too, so one bad record cannot break a listing;
    it is appended to ``unreadable`` when the caller wants to report it.
    """
    pipe = queue.client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hgetall(queue.keys.job(job_id))
    out: list[Job] = []
    for job_id, h in zip(ids, pipe.execute(), strict=True):
        if not h:
            continue
        try:
            out.append(decode_job(job_id, h))
        except BadRecord as exc:
            if unreadable is not None:
                unreadable.append(exc)
    return out


def kinds(queue: Queue) -> list[str]:
    """Every kind that has had a pending list."""
    return sorted(cast(set[str], queue.client.smembers(queue.keys.kinds)))


def counts(queue: Queue) -> dict[str, int]:
    """Number of jobs per state (two round trips whatever the number of jobs)."""
    k = queue.keys
    names = kinds(queue)
    pipe = queue.client.pipeline(transaction=False)
    for kind in names:
        pipe.llen(k.pending(kind))
    for key in (k.scheduled, k.processing, k.done, k.dead):
        pipe.zcard(key)
    res = [int(x) for x in pipe.execute()]
    pending = sum(res[: len(names)])
    scheduled, processing, done, dead = res[len(names):]
    return {"pending": pending, "scheduled": scheduled, "processing": processing,
            "done": done, "dead": dead}


def stats(queue: Queue) -> dict[str, float]:
    """The shared counters (see docs/architecture.md for each name)."""
    raw = cast(dict[str, str], queue.client.hgetall(queue.keys.stats))
    return {name: float(v) if "." in v else int(v) for name, v in raw.items()}


def _zset_ids(queue: Queue, key: str, max_score: float | str) -> Iterator[str]:
    start = 0
    while True:
        page = cast(list[str], queue.client.zrangebyscore(key, "-inf", max_score,
                                                          start=start, num=PAGE))
        yield from page
        if len(page) < PAGE:
            return
        start += PAGE


def _pending_ids(queue: Queue, kind: str | None) -> Iterator[str]:
    for name in [kind] if kind else kinds(queue):
        start = 0
        while True:
            page = cast(list[str], queue.client.lrange(queue.keys.pending(name), start,
                                                       start + PAGE - 1))
            yield from page
            if len(page) < PAGE:
                break
            start += PAGE


def _age_anchor(job: Job) -> float | None:
    if job.state is JobState.PROCESSING:
        return job.claimed_at
    if job.state in (JobState.DONE, JobState.DEAD):
        return job.finished_at
    return job.enqueued_at


def list_jobs(queue: Queue, state: JobState, *, kind: str | None = None,
              reason: str | None = None, older_than: float | None = None,
              limit: int = 100, unreadable: list[BadRecord] | None = None) -> list[Job]:
    """Jobs in one state, oldest first, filtered by kind, dead reason and age.

    Records that cannot be decoded are skipped and appended to ``unreadable`` (if given).

    Age is measured from the moment that matters for the state: this attempt's start for
    processing, death or completion for dead and done, enqueue for pending and scheduled.
    """
    k = queue.keys
    now = server_time_ms(queue) / 1000.0
    ids: Iterator[str]
    if state is JobState.PENDING:
        ids = _pending_ids(queue, kind)
    else:
        key = {JobState.SCHEDULED: k.scheduled, JobState.PROCESSING: k.processing,
               JobState.DONE: k.done, JobState.DEAD: k.dead}[state]
        cutoff: float | str = "+inf"
        if older_than is not None and state in (JobState.DONE, JobState.DEAD):
            cutoff = (now - older_than) * 1000
        ids = _zset_ids(queue, key, cutoff)
    out: list[Job] = []
    batch: list[str] = []

    def take(batch: list[str]) -> None:
        for job in get_jobs(queue, batch, unreadable):
            if kind and job.kind != kind:
                continue
            if reason and job.dead_reason != reason:
                continue
            anchor = _age_anchor(job)
            if older_than is not None and (anchor is None or now - anchor < older_than):
                continue
            if job.state is state and len(out) < limit:
                out.append(job)

    for job_id in ids:
        batch.append(job_id)
        if len(batch) == PAGE:
            take(batch)
            batch = []
            if len(out) >= limit:
                return out
    take(batch)
    return out


def expired_jobs(queue: Queue, limit: int = 1000) -> list[Job]:
    """Jobs whose lease has run out and that no reaper has handled yet (for dry runs)."""
    now = server_time_ms(queue)
    ids = cast(list[str], queue.client.zrangebyscore(queue.keys.processing, "-inf", now,
                                                     start=0, num=limit))
    return [j for j in get_jobs(queue, ids) if j.state is JobState.PROCESSING]


def stale_count(queue: Queue) -> int:
    """How many leases have expired and wait for a reaper."""
    return int(queue.client.zcount(queue.keys.processing, "-inf", server_time_ms(queue)))


@dataclass(frozen=True)
class ReaperStatus:
    """The last reap pass any process recorded."""

    last_run: float | None
    last_reaped: int
    passes: int


def reaper_status(queue: Queue) -> ReaperStatus:
    """When a reaper last ran and what it did."""
    h: dict[str, Any] = cast(dict[str, Any], queue.client.hgetall(queue.keys.reaper))
    last = int(h["last_run"]) / 1000.0 if h.get("last_run") else None
    return ReaperStatus(last, int(h.get("last_reaped", 0)), int(h.get("passes", 0)))


def oldest_pending_age(queue: Queue) -> float:
    """Seconds the oldest pending job has waited (0 when nothing is pending)."""
    heads = []
    pipe = queue.client.pipeline(transaction=False)
    for name in kinds(queue):
        pipe.lindex(queue.keys.pending(name), 0)
    heads = [h for h in pipe.execute() if h]
    if not heads:
        return 0.0
    jobs = get_jobs(queue, heads)
    now = server_time_ms(queue) / 1000.0
    times = [j.requeued_at or j.enqueued_at for j in jobs if j.enqueued_at is not None]
    return max(0.0, now - min(times)) if times else 0.0


@dataclass(frozen=True)
class AgeHistogram:
    """Ages of the jobs in flight right now: cumulative bucket counts, sum and count."""

    buckets: list[tuple[float, int]]  # (upper bound in seconds, jobs at most that old)
    total_seconds: float
    count: int


def processing_ages(queue: Queue, bounds: Sequence[float]) -> AgeHistogram:
    """In-flight age histogram in one round trip, whatever the number of jobs in flight.

    Counts come from ZCOUNT over the claim-time index; the sum from the running sum of claim
    times the scripts keep (count * now - sum of claim times).
    """
    now = server_time_ms(queue)
    pipe = queue.client.pipeline(transaction=False)
    for b in bounds:
        pipe.zcount(queue.keys.claimed, now - b * 1000, "+inf")
    pipe.zcard(queue.keys.claimed)
    pipe.hget(queue.keys.stats, "inflight_claimed_ms")
    res = pipe.execute()
    count = int(res[len(bounds)])
    claimed_sum = int(res[len(bounds) + 1] or 0)
    total = max(0.0, (count * now - claimed_sum) / 1000.0) if count else 0.0
    return AgeHistogram([(b, int(c)) for b, c in zip(bounds, res, strict=False)], total, count)
