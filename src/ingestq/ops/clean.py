"""`clean`: the emergency command, made safe.

Without an age, only stale attempts are selected: the lease ran out (the worker stopped beating)
or the attempt has run longer than ``job_timeout_seconds``. With an age, every attempt started at
least that long ago is selected, healthy ones included, and each is marked ``alive`` so the
caller can say how many running jobs it is about to take away. Taking back is token-checked
(reap.lua, mode clean): an attempt that finished or was re-claimed after the selection is left
alone and counted as skipped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ingestq.core import queries
from ingestq.core.job import Job, JobState
from ingestq.core.queue import Queue

TARGET_MAX = 80  # characters of payload shown when a job names no path
SELECT_LIMIT = 100_000  # jobs one clean may take back; a bigger backlog is cleaned in rounds


@dataclass(frozen=True)
class CleanCandidate:
    """One attempt `clean` would take back."""

    id: str
    kind: str
    age_seconds: float  # since the current attempt started (claim time)
    attempts: int
    failures: int
    max_retries: int
    worker: str | None
    target: str  # the payload's path, else the payload itself, shortened
    alive: bool  # lease still held and within job_timeout_seconds: a worker is on it
    why: str  # lease_expired | timeout | older_than
    token: str

    @property
    def would(self) -> str:
        """What taking it back does: requeue while the retry budget lasts, else dead letter."""
        return "requeue" if self.failures + 1 <= self.max_retries else "dlq"


@dataclass(frozen=True)
class CleanPlan:
    """The selection, before anything changes."""

    older_than: float | None
    candidates: list[CleanCandidate]

    @property
    def alive(self) -> int:
        """How many selected attempts are still being worked on."""
        return sum(c.alive for c in self.candidates)


@dataclass
class CleanResult:
    """What a clean did: counts per outcome and (id, action) per job taken back."""

    requeued: int = 0
    dead_lettered: int = 0
    skipped: int = 0  # finished or re-claimed between selection and action: untouched
    actions: list[tuple[str, str]] = field(default_factory=list)


def describe_target(payload: dict[str, Any]) -> str:
    """The file a job works on, else its payload, shortened for a table cell."""
    path = payload.get("path")
    if isinstance(path, str) and path:
        return path
    text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= TARGET_MAX else text[:TARGET_MAX - 1] + "…"


def _candidate(job: Job, now: float, timeout: float, older_than: float | None
               ) -> CleanCandidate | None:
    if job.state is not JobState.PROCESSING or job.claimed_at is None:
        return None
    age = job.age(now) or 0.0  # processing: since the claim (the one age rule, Job.age)
    expired = job.lease_until is not None and job.lease_until <= now
    timed_out = age > timeout
    if older_than is None:
        if not (expired or timed_out):
            return None
        why = "lease_expired" if expired else "timeout"
    else:
        if age < older_than:
            return None
        why = "lease_expired" if expired else "timeout" if timed_out else "older_than"
    return CleanCandidate(
        id=job.id, kind=job.kind, age_seconds=round(age, 3), attempts=job.attempts,
        failures=job.failures, max_retries=job.max_retries, worker=job.worker,
        target=describe_target(job.payload), alive=not (expired or timed_out), why=why,
        token=str(job.token))


def plan_clean(queue: Queue, older_than: float | None = None) -> CleanPlan:
    """Select what `clean` would take back; changes nothing. ``older_than=0`` selects all."""
    if older_than is not None and older_than < 0:
        raise ValueError(f"older_than must be >= 0 seconds, got {older_than}")
    now_ms = queries.server_time_ms(queue)
    timeout = queue.settings.queue_recovery.job_timeout_seconds
    if older_than is None:
        ids = queries.lease_expired_ids(queue, now_ms, SELECT_LIMIT)
        ids += queries.claimed_before_ids(queue, now_ms - timeout * 1000, SELECT_LIMIT)  # timed out
    else:
        ids = queries.claimed_before_ids(queue, now_ms - older_than * 1000, SELECT_LIMIT)
    jobs = queries.get_jobs(queue, list(dict.fromkeys(ids)))
    found = [_candidate(j, now_ms / 1000.0, timeout, older_than) for j in jobs]
    chosen = sorted((c for c in found if c is not None), key=lambda c: -c.age_seconds)
    return CleanPlan(older_than=older_than, candidates=chosen)


def apply_clean(queue: Queue, plan: CleanPlan) -> CleanResult:
    """Take back exactly the planned attempts (token-checked); requeue or dead-letter each."""
    result = CleanResult()
    handled = queue.clean([(c.id, c.token) for c in plan.candidates])
    result.actions = handled
    for _, action in handled:
        if action == "requeue":
            result.requeued += 1
        else:
            result.dead_lettered += 1
    result.skipped = len(plan.candidates) - len(handled)
    return result


def plan_to_dict(plan: CleanPlan) -> list[dict[str, Any]]:
    """The selected jobs, JSON-ready (without tokens: they are internal)."""
    rows = []
    for c in plan.candidates:
        row = asdict(c)
        del row["token"]
        row["would"] = c.would
        rows.append(row)
    return rows
