"""Cancel and progress inside a real worker: thread and process isolation, real server clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis import Redis
from support.procs import wait_for
from support.settings import fast_settings

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.controls import cancel_job, pause_kind, resume_kind
from ingestq.core.job import JobState
from ingestq.core.queue import Queue
from ingestq.worker.handlers import default_registry, load_modules
from ingestq.worker.loop import Worker


@contextmanager
def running_worker(queue: Queue, kinds: list[str], isolation: str = "thread"
                   ) -> Iterator[Worker]:
    """A real worker on its own thread, stopped (and its children killed) at the end."""
    load_modules(["support.sample_handlers"])
    worker = Worker(queue, default_registry, kinds=kinds, concurrency=1, isolation=isolation,
                    modules=["support.sample_handlers"], run_reaper=False)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.request_stop()
        worker.request_stop()
        thread.join(20)


def _queue(client: Redis, base_settings: IngestSettings, grace: float = 5.0) -> Queue:
    s = fast_settings(base_settings)
    s = s.model_copy(update={"worker": s.worker.model_copy(
        update={"cancel_grace_seconds": grace})})
    return Queue(client, s)


def _state(queue: Queue, job_id: str) -> JobState:
    return queries.get_job(queue, job_id).state


def _slot_running(worker: Worker, queue: Queue, job_id: str) -> Any:
    """The process slot whose child has started this job (it is then listening for SIGUSR1)."""
    wait_for(lambda: _state(queue, job_id) is JobState.PROCESSING, 30, "the claim")
    slot = worker._runners["process"].slots[0]
    wait_for(lambda: slot.in_handler, 20, "the child to start the job")
    return slot


def test_cancelling_a_running_thread_job_stops_it_and_it_stays_dead(
        client: Redis, base_settings: IngestSettings) -> None:
    queue = _queue(client, base_settings)
    job_id = queue.enqueue("sleep", {"seconds": 30}).id
    with running_worker(queue, ["sleep"]) as worker:
        wait_for(lambda: _state(queue, job_id) is JobState.PROCESSING, 10, "the claim")
        attempt = worker.shared.attempts()[0]
        cancel_job(queue, job_id)
        wait_for(attempt.context.stop_event.is_set, 5, "the stop event")
        wait_for(lambda: not len(worker.shared), 5, "the attempt to be dropped")
        assert attempt.ending is not None and attempt.ending.outcome.value == "cancelled"
        time.sleep(1.0)  # a heartbeat or two: nothing may revive the job
    job = queries.get_job(queue, job_id)
    assert (job.state, job.dead_reason, job.attempts) == (JobState.DEAD, "cancelled", 1)
    assert "failed" not in queries.stats(queue)


def test_cancelling_a_process_job_that_honours_the_stop_keeps_its_child(
        client: Redis, base_settings: IngestSettings) -> None:
    queue = _queue(client, base_settings, grace=5.0)
    job_id = queue.enqueue("sleep", {"seconds": 30}).id
    with running_worker(queue, ["sleep"], isolation="process") as worker:
        slot = _slot_running(worker, queue, job_id)
        pid = slot.proc.pid
        started = time.monotonic()
        cancel_job(queue, job_id)
        wait_for(lambda: slot.current is None, 4, "the child to return")
        assert time.monotonic() - started < 4  # well inside the 5 s grace: SIGUSR1 stopped it
        assert slot.proc is not None and slot.proc.pid == pid and slot.proc.is_alive()
    assert queries.get_job(queue, job_id).dead_reason == "cancelled"


def test_cancelling_a_process_job_that_ignores_the_stop_kills_it_after_the_grace(
        client: Redis, base_settings: IngestSettings) -> None:
    queue = _queue(client, base_settings, grace=1.0)
    job_id = queue.enqueue("stubborn", {"seconds": 60}).id
    with running_worker(queue, ["stubborn"], isolation="process") as worker:
        slot = _slot_running(worker, queue, job_id)
        child = slot.proc
        started = time.monotonic()
        cancel_job(queue, job_id)
        wait_for(lambda: not child.is_alive(), 6, "the child to be killed after the grace")
        assert time.monotonic() - started >= 1.0  # it had its grace first
        wait_for(lambda: slot.current is None, 5, "the slot to be free")
        time.sleep(0.5)
    job = queries.get_job(queue, job_id)
    assert (job.state, job.dead_reason, job.crash_recoveries) == (JobState.DEAD, "cancelled", 0)


def test_a_worker_stops_claiming_a_kind_once_it_is_paused(
        client: Redis, base_settings: IngestSettings) -> None:
    queue = _queue(client, base_settings)
    pause_kind(queue, "noop")
    ids = [queue.enqueue("noop", {}).id for _ in range(3)]
    with running_worker(queue, ["noop"]):
        time.sleep(1.0)
        assert queries.counts(queue)["pending"] == 3
        resume_kind(queue, "noop")
        wait_for(lambda: all(_state(queue, i) is JobState.DONE for i in ids), 10, "the jobs")


def _progress_of(queue: Queue, job_id: str) -> float:
    p = queries.get_job(queue, job_id).progress
    return -1.0 if p is None else float(p["done"])


def test_progress_reaches_the_record_from_a_thread_handler(
        client: Redis, base_settings: IngestSettings) -> None:
    queue = _queue(client, base_settings)
    job_id = queue.enqueue("counted_steps", {"steps": 4, "step_seconds": 0.3}).id
    with running_worker(queue, ["counted_steps"]):
        wait_for(lambda: 0 < _progress_of(queue, job_id) < 4, 10, "progress mid-way")
        wait_for(lambda: _state(queue, job_id) is JobState.DONE, 10, "the job to finish")
    events = [f for _, f in client.xrange(queue.keys.events) if f["type"] == "progress"]
    assert events and all(e["job"] == job_id and e["total"] == "4" for e in events)


def test_progress_reaches_the_record_from_a_child_process(
        client: Redis, base_settings: IngestSettings) -> None:
    queue = _queue(client, base_settings)
    job_id = queue.enqueue("counted_steps", {"steps": 4, "step_seconds": 0.3}).id
    with running_worker(queue, ["counted_steps"], isolation="process"):
        wait_for(lambda: 0 < _progress_of(queue, job_id) < 4, 30, "progress mid-way")
        wait_for(lambda: _state(queue, job_id) is JobState.DONE, 10, "the job to finish")
    note = (queries.get_job(queue, job_id).progress or {}).get("note")
    assert note is not None and note.startswith("step ")


def test_a_burst_worker_finishes_when_only_paused_kinds_wait(
        client: Redis, base_settings: IngestSettings) -> None:
    queue = _queue(client, base_settings)
    load_modules([])
    pause_kind(queue, "noop")
    waiting = queue.enqueue("noop", {}).id
    done = queue.enqueue("sleep", {"seconds": 0}).id
    Worker(queue, default_registry, kinds=["noop", "sleep"], burst=True, run_reaper=False).run()
    assert _state(queue, done) is JobState.DONE
    assert _state(queue, waiting) is JobState.PENDING
