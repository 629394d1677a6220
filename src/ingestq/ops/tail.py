"""`tail`: lifecycle events as they happen (XREAD BLOCK on the events stream), and following
one job to its end without ever hanging on a queue that no worker serves."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from ingestq import reads
from ingestq.job import Job, JobState
from ingestq.queue import Queue
from ingestq.snapshot import unserved_kinds

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
        """JSON-ready form (one line of `tail --json`): integer fields are numbers."""
        return {"id": self.id or None, "type": self.type, "job": self.job, "kind": self.kind,
                "t": self.t, "fields": {k: _typed(v) for k, v in self.fields.items()}}


def _typed(value: str) -> int | str:
    """Stream fields are strings on the wire; counts, attempts and tokens read as numbers."""
    return int(value) if value.lstrip("-").isdigit() and len(value) < 19 else value


ENTRY_FIELDS = ("type", "job", "kind", "t", "jobs", "kinds")


def events_of(entry_id: str, raw: dict[str, str]) -> list[Event]:
    """The events one stream entry holds: one, or one per job of a batch entry.

    A batch entry (claim and ack write one per call) has ``jobs`` (comma list), ``kind`` (every
    job's kind) or ``kinds`` (comma list aligned with ``jobs``), ``t``, ``each:<name>`` fields
    (comma lists aligned with ``jobs``: field ``<name>`` of each job's event) and shared fields.
    Every event of a batch carries the entry's stream id.
    """
    t_raw = raw.get("t")
    t = int(t_raw) / 1000.0 if t_raw else None
    typ = raw.get("type", "")
    if "jobs" not in raw:
        extra = {k: v for k, v in raw.items() if k not in ENTRY_FIELDS}
        return [Event(id=entry_id, type=typ, job=raw.get("job", ""), kind=raw.get("kind", ""),
                      t=t, fields=extra)]
    jobs = raw["jobs"].split(",")
    kinds = raw["kinds"].split(",") if "kinds" in raw else [raw.get("kind", "")] * len(jobs)
    each = {k[5:]: v.split(",") for k, v in raw.items() if k.startswith("each:")}
    shared = {k: v for k, v in raw.items()
              if k not in ENTRY_FIELDS and not k.startswith("each:")}
    return [Event(id=entry_id, type=typ, job=job, kind=kinds[i], t=t,
                  fields={**{k: v[i] for k, v in each.items()}, **shared})
            for i, job in enumerate(jobs)]


def event_count(raw: dict[str, str]) -> int:
    """How many events one stream entry holds (without building them)."""
    jobs = raw.get("jobs")
    return jobs.count(",") + 1 if jobs else 1


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
                out.extend(events_of(entry_id, raw))
                self.last_id = entry_id
        return out


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
