"""The seam inside the worker (issues 11 and 15.1): attempts keyed by lease, no import of Worker."""

from __future__ import annotations

import ast
from pathlib import Path

from ingestq.core.job import Claimed
from ingestq.core.queue import ManualClock, Queue
from ingestq.worker.attempt import Attempt, Outcome
from ingestq.worker.handlers import JobContext
from ingestq.worker.inflight import InFlight
from ingestq.worker.leases import newest_per_job
from ingestq.worker.outbox import Reporter

SRC = Path(__file__).resolve().parents[2] / "src" / "ingestq" / "worker"


def attempt_of(job: Claimed) -> Attempt:
    return Attempt(job, JobContext(job.id, job.kind, job.payload, job.attempt))


def reclaimed(queue: Queue, clock: ManualClock) -> tuple[Attempt, Attempt]:
    """One job claimed, its lease run out and reaped, claimed again: two attempts, one id."""
    queue.enqueue("x", {})
    first = queue.claim("w", 1).jobs[0]
    clock.advance(queue.settings.queue_recovery.lease_seconds + 1)
    assert queue.reap() == [(first.id, "requeue")]
    second = queue.claim("w", 1).jobs[0]
    assert (second.id, second.token != first.token) == (first.id, True)
    return attempt_of(first), attempt_of(second)


def shared_for(queue: Queue) -> InFlight:
    return InFlight(queue, "w", revive=lambda: None, fatal=lambda reason: None)


def test_settling_the_old_attempt_keeps_the_new_one(queue: Queue, clock: ManualClock) -> None:
    old, new = reclaimed(queue, clock)
    shared = shared_for(queue)
    shared.add(old)
    shared.add(new)
    shared.settle([old])  # its ack was refused: it leaves, and only it
    assert shared.attempts() == [new]


def test_keeper_beats_the_newest_claim_and_ends_the_older_as_lost(
        queue: Queue, clock: ManualClock) -> None:
    old, new = reclaimed(queue, clock)
    reporter = Reporter(shared_for(queue))
    assert newest_per_job([old, new], reporter) == [new]
    assert old.ending is not None and old.ending.outcome is Outcome.LOST
    assert new.ending is None
    assert queue.heartbeat("w", [new.lease]) == set()  # the new lease is the live one


def test_outbox_and_lease_keeper_do_not_import_the_worker() -> None:
    for name in ("inflight.py", "outbox.py", "leases.py", "runners.py", "attempt.py"):
        tree = ast.parse((SRC / name).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "ingestq.worker.loop" not in imported, name
