"""`tail`: lifecycle events as they happen (XREAD BLOCK on the events stream), and following
one job to its end without ever hanging on a queue that no worker serves."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ingestq.core import queries
from ingestq.core.events import Event, EventReader
from ingestq.core.job import Job, JobState
from ingestq.core.queue import Queue
from ingestq.core.snapshot import unserved_kinds

CHECK_SECONDS = 1.0  # how often the followed job's record and the live workers are re-read


@dataclass(frozen=True)
class TailOutcome:
    """How following a job ended: done, dead, or no_worker (nothing alive to run it)."""

    end: str
    job: Job | None
    message: str

    def as_event(self, job_id: str) -> Event:
        """The closing line of `tail JOB --json`: type ``end``, so a job that had already
        finished (no event to stream) still yields one line saying how it ended."""
        state = self.job.state.value if self.job else ("done" if self.end == "done" else "")
        return Event(id="", type="end", job=job_id, kind=self.job.kind if self.job else "",
                     t=self.job.finished_at if self.job else None,
                     fields={"end": self.end, "state": state, "message": self.message})


def _terminal(job_id: str, job: Job | None) -> TailOutcome | None:
    if job is None:  # only finished jobs are trimmed; a purge needs a dead job first
        return TailOutcome("done", None, f"job {job_id} finished (its record was trimmed)")
    if job.state is JobState.DONE:
        return TailOutcome("done", job, f"job {job_id} is done")
    if job.state is JobState.DEAD:
        return TailOutcome("dead", job, f"job {job_id} is dead ({job.dead_reason}): "
                                        f"{job.last_error or 'no error recorded'}")
    return None


def _served(queue: Queue, kind: str) -> bool:
    """Some live worker takes this kind (a worker of other kinds will never run the job)."""
    return not unserved_kinds(queue, [kind])


def follow_job(queue: Queue, job_id: str, *, no_worker_timeout: float,
               on_event: Callable[[Event], None]) -> TailOutcome:
    """Stream this job's events until it is done or dead.

    Gives up with ``no_worker`` once no live worker that takes the job's kind has been seen for
    ``no_worker_timeout`` seconds while the job is still active. Raises JobNotFound when the
    job does not exist.
    """
    reader = EventReader(queue)  # positioned before the first look, so no event is lost
    ended = _terminal(job_id, queries.get_job(queue, job_id))
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
                found = queries.get_jobs(queue, [job_id])
                return _terminal(job_id, found[0] if found else None) or TailOutcome(
                    "done" if ev.type == "completed" else "dead", None, f"job {job_id} {ev.type}")
        now = time.monotonic()
        if now < next_check:
            continue
        next_check = now + CHECK_SECONDS
        found = queries.get_jobs(queue, [job_id])
        ended = _terminal(job_id, found[0] if found else None)
        if ended:
            # One script wrote the record and its event: what the stream still holds of this
            # job (its `completed`, unless trimmed) comes before the closing line.
            for ev in reader.rest():
                if ev.job == job_id:
                    on_event(ev)
            return ended
        if found and _served(queue, found[0].kind):
            alone_since = None
            continue
        alone_since = alone_since if alone_since is not None else now
        if now - alone_since >= no_worker_timeout:
            state = found[0].state.value if found else "unknown"
            kind = found[0].kind if found else "?"
            return TailOutcome("no_worker", found[0] if found else None,
                               f"no live worker takes kind {kind!r} for {no_worker_timeout:g} s "
                               f"while job {job_id} is {state}: nothing will run it; start one "
                               f"with `ingestctl worker --kinds {kind}`")
