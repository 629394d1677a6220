"""Operator controls in the core: pause and resume a kind, cancel a job, delay, run now,
and the progress a handler reports."""

from __future__ import annotations

import pytest

from ingestq.core import queries
from ingestq.core.controls import (
    cancel_job,
    cancelled_among,
    pause_kind,
    paused_kinds,
    report_progress,
    resume_kind,
    run_now,
)
from ingestq.core.job import JobState, Progress, exception_entry
from ingestq.core.queue import ManualClock, Queue
from ingestq.errors import InvalidTransition, JobNotFound, LeaseLost, PayloadError
from ingestq.worker.handlers import PROGRESS_MIN_INTERVAL, JobContext


def test_a_paused_kind_is_not_claimed_until_it_is_resumed(queue: Queue) -> None:
    a = queue.enqueue("a", {}).id
    b = queue.enqueue("b", {}).id
    assert pause_kind(queue, "a") is True
    assert pause_kind(queue, "a") is False  # already paused
    assert paused_kinds(queue) == ["a"]
    assert [j.id for j in queue.claim("w", 10).jobs] == [b]
    assert queue.claim("w", 10, kinds=["a"]).jobs == []
    assert queries.get_job(queue, a).state is JobState.PENDING
    assert resume_kind(queue, "a") is True
    assert resume_kind(queue, "a") is False
    assert [j.id for j in queue.claim("w", 10).jobs] == [a]


def test_resume_wakes_idle_workers_for_the_waiting_jobs(queue: Queue) -> None:
    pause_kind(queue, "a")
    queue.enqueue("a", {})
    queue.client.delete(queue.keys.wake)
    resume_kind(queue, "a")
    assert queue.client.llen(queue.keys.wake) == 1


def test_pause_refuses_an_invalid_kind(queue: Queue) -> None:
    with pytest.raises(PayloadError):
        pause_kind(queue, "bad kind!")


def test_pause_and_resume_are_lifecycle_events(queue: Queue) -> None:
    pause_kind(queue, "a")
    resume_kind(queue, "a")
    types = [f["type"] for _, f in queue.client.xrange(queue.keys.events)]
    assert types == ["paused", "resumed"]


def _dead_reason(queue: Queue, job_id: str) -> tuple[JobState, str | None]:
    job = queries.get_job(queue, job_id)
    return job.state, job.dead_reason


def test_cancel_a_pending_job_moves_it_to_dead_as_cancelled(queue: Queue) -> None:
    job_id = queue.enqueue("a", {}, dedupe_key="k").id
    assert cancel_job(queue, job_id) == "pending"
    assert _dead_reason(queue, job_id) == (JobState.DEAD, "cancelled")
    assert queue.claim("w", 10).jobs == []
    job = queries.get_job(queue, job_id)
    assert job.errors[-1]["reason"] == "cancelled"
    assert queries.counts(queue)["dead"] == 1 and queries.counts(queue)["pending"] == 0
    assert queue.enqueue("a", {}, dedupe_key="k").created  # the dedupe key is free again


def test_cancel_a_scheduled_job_moves_it_to_dead_and_it_never_runs(
        queue: Queue, clock: ManualClock) -> None:
    job_id = queue.enqueue("a", {}, delay_seconds=60).id
    assert cancel_job(queue, job_id) == "scheduled"
    clock.advance(120)
    assert queue.claim("w", 10).jobs == []
    assert _dead_reason(queue, job_id) == (JobState.DEAD, "cancelled")
    assert queries.counts(queue)["scheduled"] == 0


def test_cancel_a_running_job_revokes_its_lease_so_it_is_never_retried(queue: Queue) -> None:
    job_id = queue.enqueue("a", {}).id
    job = queue.claim("w", 1).jobs[0]
    assert cancel_job(queue, job_id) == "processing"
    assert _dead_reason(queue, job_id) == (JobState.DEAD, "cancelled")
    assert cancelled_among(queue, [(job.id, job.token)]) == {job_id}
    assert cancelled_among(queue, [(job.id, "999")]) == set()  # another attempt
    with pytest.raises(LeaseLost):
        queue.ack(job.id, job.token)
    with pytest.raises(LeaseLost):
        queue.fail(job.id, job.token, exception_entry(RuntimeError("x"), "error"))
    assert _dead_reason(queue, job_id) == (JobState.DEAD, "cancelled")
    assert queries.counts(queue)["processing"] == 0
    assert queries.stats(queue).get("failed") is None


def test_cancel_refuses_finished_and_unknown_jobs(queue: Queue) -> None:
    job_id = queue.enqueue("a", {}).id
    job = queue.claim("w", 1).jobs[0]
    queue.ack(job.id, job.token)
    with pytest.raises(InvalidTransition):
        cancel_job(queue, job_id)
    with pytest.raises(JobNotFound):
        cancel_job(queue, "424242")


def test_a_delayed_job_waits_until_due(queue: Queue, clock: ManualClock) -> None:
    job_id = queue.enqueue("a", {}, delay_seconds=30).id
    assert queries.get_job(queue, job_id).state is JobState.SCHEDULED
    assert queue.claim("w", 10).jobs == []
    clock.advance(31)
    assert [j.id for j in queue.claim("w", 10).jobs] == [job_id]


def test_run_now_makes_a_scheduled_job_due_at_once(queue: Queue) -> None:
    job_id = queue.enqueue("a", {}, delay_seconds=3600).id
    run_now(queue, job_id)
    assert [j.id for j in queue.claim("w", 10).jobs] == [job_id]
    with pytest.raises(InvalidTransition):
        run_now(queue, job_id)  # processing now, not scheduled


def test_progress_is_recorded_only_by_the_attempt_holding_the_lease(queue: Queue) -> None:
    queue.enqueue("a", {})
    job = queue.claim("w", 1).jobs[0]
    codes = report_progress(queue, [(job.id, job.token, Progress(3, 10, "sections")),
                                    (job.id, "999", Progress(9, 10))])
    assert codes == [1, -2]
    progress = queries.get_job(queue, job.id).progress
    assert progress is not None
    assert (progress["done"], progress["total"], progress["note"]) == (3, 10, "sections")
    events = [f for _, f in queue.client.xrange(queue.keys.events) if f["type"] == "progress"]
    assert [(e["job"], e["done"], e["total"]) for e in events] == [(job.id, "3", "10")]


def test_job_context_progress_is_throttled_but_the_last_report_always_passes() -> None:
    seen: list[Progress] = []
    ctx = JobContext("1", "a", {}, 1, progress_sink=seen.append)
    for i in range(1, 10):
        ctx.progress(i, 10)
    assert [p.done for p in seen] == [1]  # the rest came within PROGRESS_MIN_INTERVAL
    ctx.progress(10, 10, "x" * 1000)
    assert [p.done for p in seen] == [1, 10]
    assert seen[-1].note is not None and len(seen[-1].note) == 200
    assert PROGRESS_MIN_INTERVAL > 0
    with pytest.raises(ValueError):
        ctx.progress(-1, 10)


def test_progress_of_many_jobs_is_one_stream_entry_that_tail_expands(queue: Queue) -> None:
    from ingestq.core.events import events_of

    for _ in range(3):
        queue.enqueue("a", {})
    jobs = queue.claim("w", 3).jobs
    report_progress(queue, [(c.id, c.token, Progress(i, 3, "a, b")) for i, c in enumerate(jobs)])
    entries = [(i, f) for i, f in queue.client.xrange(queue.keys.events)
               if f["type"] == "progress"]
    assert len(entries) == 1
    events = events_of(*entries[0])
    assert [(e.job, e.fields["done"], e.fields["note"]) for e in events] == [
        (c.id, str(i), "a; b") for i, c in enumerate(jobs)]
    assert (queries.get_job(queue, jobs[0].id).progress or {})["note"] == "a, b"
