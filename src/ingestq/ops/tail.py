"""`tail`: lifecycle events as they happen (XREAD BLOCK on the events stream), and following
one job to its end without ever hanging on a queue that no worker serves."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from ingestq import reads, registry
from ingestq.job import Job, JobState
from ingestq.queue import Queue

BLOCK_MS = 500  # one XREAD wait; short so liveness checks and Ctrl-C stay responsive
CHECK_SECONDS = 1.0  # how often the followed job's record and the live workers are re-read
READ_COUNT = 1000


@dataclass(frozen=True)
class Event:
    """One lifecycle event: its stream id, type, job, kind, server time, and extra fields."""

    id: str
    type: str
    job: str
    kind: str
    t: float | None
    fields: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one line of `tail --json`)."""
        return {"id": self.id, "type": self.type, "job": self.job, "kind": self.kind,
                "t": self.t, "fields": self.fields}


def _event(entry_id: str, raw: dict[str, str]) -> Event:
    extra = {k: v for k, v in raw.items() if k not in ("type", "job", "kind", "t")}
    t = raw.get("t")
    return Event(id=entry_id, type=raw.get("type", ""), job=raw.get("job", ""),
                 kind=raw.get("kind", ""), t=int(t) / 1000.0 if t else None, fields=extra)


class EventReader:
    """Reads the events stream from the moment it was created onwards."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        last = cast(list[tuple[str, dict[str, str]]],
                    queue.client.xrevrange(queue.keys.events, count=1))
        # a concrete id, not '$': nothing that happens between two reads can be missed
        self.last_id = last[0][0] if last else "0-0"

    def read(self, block_ms: int = BLOCK_MS) -> list[Event]:
        """Events after the last one returned, waiting up to ``block_ms`` for the first."""
        res = cast(list[tuple[str, list[tuple[str, dict[str, str]]]]], self.queue.client.xread(
            {self.queue.keys.events: self.last_id}, count=READ_COUNT, block=block_ms))
        out: list[Event] = []
        for _, entries in res or []:
            for entry_id, raw in entries:
                out.append(_event(entry_id, raw))
                self.last_id = entry_id
        return out


@dataclass(frozen=True)
class TailOutcome:
    """How following a job ended: done, dead, or no_worker (nothing alive to run it)."""

    end: str
    job: Job | None
    message: str


def _terminal(job_id: str, job: Job | None) -> TailOutcome | None:
    if job is None:  # only finished jobs are trimmed; a purge needs a dead job first
        return TailOutcome("done", None, f"job {job_id} finished (its record was trimmed)")
    if job.state is JobState.DONE:
        return TailOutcome("done", job, f"job {job_id} is done")
    if job.state is JobState.DEAD:
        return TailOutcome("dead", job, f"job {job_id} is dead ({job.dead_reason}): "
                                        f"{job.last_error or 'no error recorded'}")
    return None


def follow_job(queue: Queue, job_id: str, *, no_worker_timeout: float,
               on_event: Callable[[Event], None]) -> TailOutcome:
    """Stream this job's events until it is done or dead.

    Gives up with ``no_worker`` once no live worker has been seen for ``no_worker_timeout``
    seconds while the job is still active. Raises JobNotFound when the job does not exist.
    """
    reader = EventReader(queue)  # positioned before the first look, so no event is lost
    ended = _terminal(job_id, reads.get_job(queue, job_id))
    if ended:
        return ended
    alone_since: float | None = None
    next_check = 0.0
    while True:
        for ev in reader.read():
            if ev.job != job_id:
                continue
            on_event(ev)
            if ev.type in ("completed", "dead"):
                found = reads.get_jobs(queue, [job_id])
                return _terminal(job_id, found[0] if found else None) or TailOutcome(
                    "done" if ev.type == "completed" else "dead", None, f"job {job_id} {ev.type}")
        now = time.monotonic()
        if now < next_check:
            continue
        next_check = now + CHECK_SECONDS
        found = reads.get_jobs(queue, [job_id])
        ended = _terminal(job_id, found[0] if found else None)
        if ended:
            return ended  # the stream may have been trimmed past the job's last event
        if registry.live_workers(queue):
            alone_since = None
            continue
        alone_since = alone_since if alone_since is not None else now
        if now - alone_since >= no_worker_timeout:
            state = found[0].state.value if found else "unknown"
            return TailOutcome("no_worker", found[0] if found else None,
                               f"no live worker for {no_worker_timeout:g} s while job {job_id} "
                               f"is {state}: nothing will run it; start one with "
                               "`ingestctl worker`")
