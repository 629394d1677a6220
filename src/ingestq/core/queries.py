"""Read-only views of a queue: job records, listings, counts and counters.

Nothing here changes state, so plain commands (pipelined) are enough; every read costs a fixed
number of round trips or is bounded by the limit asked for.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from typing import Any, cast

from ingestq.core.job import Job, JobState
from ingestq.core.queue import Queue
from ingestq.errors import BadRecord, JobNotFound

PAGE = 500
# TIME read on the queue's own primary (the clock its scripts use): keyed, so a Cluster client
# routes it to the queue's slot (a plain TIME goes to any node, and a Cluster pipeline refuses it).
TIME_SCRIPT = "return redis.call('TIME')"


def time_args(queue: Queue) -> tuple[str, int, str]:
    """EVAL arguments that read TIME on the queue's primary: ``client.eval(*time_args(q))``."""
    return TIME_SCRIPT, 1, queue.keys.seq


def reply_ms(reply: Sequence[Any]) -> int:
    """Milliseconds from a TIME reply (seconds, microseconds)."""
    return int(reply[0]) * 1000 + int(reply[1]) // 1000


def server_time_ms(queue: Queue) -> int:
    """The queue clock: the hand-set test clock, else the server's TIME."""
    ms = queue.clock.now_ms()
    if ms is not None:
        return ms
    return reply_ms(cast(list[Any], queue.client.eval(*time_args(queue))))


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


def _kind_pending_ids(queue: Queue, kind: str) -> Iterator[str]:
    start = 0
    while True:
        page = cast(list[str], queue.client.lrange(queue.keys.pending(kind), start,
                                                   start + PAGE - 1))
        yield from page
        if len(page) < PAGE:
            return
        start += PAGE


def _pending_ids(queue: Queue, kind: str | None) -> Iterator[str]:
    """Pending ids in enqueue order (ids grow with each enqueue) across kinds: each kind's list
    is already in that order from its head, so a lazy merge reads only the pages it needs."""
    names = [kind] if kind else kinds(queue)
    return heapq.merge(*(_kind_pending_ids(queue, name) for name in names), key=_id_order)


def _id_order(job_id: str) -> tuple[int, str]:
    return (int(job_id), "") if job_id.isdigit() else (0, job_id)


def list_jobs(queue: Queue, state: JobState, *, kind: str | None = None,
              reason: str | None = None, older_than: float | None = None,
              limit: int = 100, unreadable: list[BadRecord] | None = None) -> list[Job]:
    """Jobs in one state, oldest first, filtered by kind, dead reason and age.

    Pending jobs come in enqueue order across kinds, so ``limit=1`` is the oldest waiting job.
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
    # Records are read in batches that start at the limit (a page of 50 reads 50 records, not
    # PAGE) and double while filters skip records, up to PAGE.
    size = max(1, min(PAGE, limit))

    def take(batch: list[str]) -> None:
        for job in get_jobs(queue, batch, unreadable):
            if kind and job.kind != kind:
                continue
            if reason and job.dead_reason != reason:
                continue
            age = job.age(now)
            if older_than is not None and (age is None or age < older_than):
                continue
            if job.state is state and len(out) < limit:
                out.append(job)

    for job_id in ids:
        batch.append(job_id)
        if len(batch) >= size:
            take(batch)
            batch = []
            if len(out) >= limit:
                return out
            size = min(PAGE, size * 2)
    take(batch)
    return out


def expired_jobs(queue: Queue, limit: int = 1000) -> list[Job]:
    """Jobs whose lease has run out and that no reaper has handled yet (for dry runs)."""
    ids = lease_expired_ids(queue, server_time_ms(queue), limit)
    return [j for j in get_jobs(queue, ids) if j.state is JobState.PROCESSING]


def lease_expired_ids(queue: Queue, now_ms: float, limit: int) -> list[str]:
    """Ids of up to ``limit`` jobs whose lease deadline is at or before ``now_ms``."""
    return cast(list[str], queue.client.zrangebyscore(queue.keys.processing, "-inf", now_ms,
                                                      start=0, num=limit))


def claimed_before_ids(queue: Queue, cutoff_ms: float, limit: int) -> list[str]:
    """Ids of up to ``limit`` jobs in flight that were claimed at or before ``cutoff_ms``."""
    return cast(list[str], queue.client.zrangebyscore(queue.keys.claimed, "-inf", cutoff_ms,
                                                      start=0, num=limit))


def drained(queue: Queue, kinds: Sequence[str]) -> bool:
    """Nothing of these kinds pending (paused kinds aside: no worker may take them), and nothing
    scheduled or in flight (of any kind)."""
    k = queue.keys
    pipe = queue.client.pipeline(transaction=False)
    pipe.smembers(k.paused)
    for kind in kinds:
        pipe.llen(k.pending(kind))
    pipe.zcard(k.processing)
    pipe.zcard(k.scheduled)
    paused, *depths = pipe.execute()
    waiting = [int(n) for kind, n in zip(kinds, depths, strict=False) if kind not in paused]
    return not any(waiting) and not any(int(n) for n in depths[len(kinds):])


def wait_for_wake(queue: Queue, timeout: float) -> None:
    """Block until a transition signals new work (a wake token) or ``timeout`` seconds pass."""
    queue.client.blpop([queue.keys.wake], timeout=timeout)


def ping(queue: Queue) -> None:
    """Reach the server once (raises the client's connection error when it cannot)."""
    queue.client.ping()
