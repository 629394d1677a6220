"""Issue 15, worker side, with real processes and signals: a pause that loses a lease, slots stuck
in handlers that ignore their stop, a background thread that dies."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from redis import Redis
from support.procs import env_for, ingestctl, stop, wait_for
from support.settings import fast_settings

from ingestq.config import IngestSettings
from ingestq.core import queries, worker_registry
from ingestq.core.job import TERMINAL, JobState
from ingestq.core.queue import JobSpec, Queue
from ingestq.core.snapshot import take
from ingestq.ops.doctor import check_liveness
from ingestq.ops.status import queue_status
from ingestq.service.metrics import exposition
from ingestq.worker.loop import EXIT_UNHEALTHY
from ingestq.worker.reaper import reap_once

pytestmark = pytest.mark.slow
TRIALS = 4  # the race is decided by thread scheduling: before the fix ~half the trials lost it


def test_paused_worker_that_reclaims_its_job_keeps_the_new_lease(
        client: Redis, base_settings: IngestSettings, tmp_path: Path) -> None:
    """Pause past the lease, reap, resume: the worker claims the job again under a new token.
    The old attempt's end must not drop the new one, which then ran out and was reaped, again
    and again, until the job went dead as poison."""
    trials = []
    for i in range(TRIALS):
        s = fast_settings(base_settings)
        q = Queue(client, s)
        job_id = q.enqueue("sleep", {"seconds": 5.0}).id
        w = ingestctl(env_for(s), "worker", "--concurrency", "2", log=tmp_path / f"w{i}.log")
        trials.append((q, job_id, w))
    try:
        for q, job_id, _ in trials:
            wait_for(lambda q=q, j=job_id: queries.get_job(q, j).state is JobState.PROCESSING,
                     90, "first claim")
        time.sleep(0.3)  # the handlers are running
        for _, _, w in trials:
            w.send_signal(signal.SIGSTOP)
        time.sleep(2.6)  # past the 2 s lease
        for q, job_id, _ in trials:  # the pass another process's reaper would make
            assert reap_once(q).jobs == [(job_id, "requeue")]
        for _, _, w in trials:
            w.send_signal(signal.SIGCONT)
        for q, job_id, _ in trials:
            # done, or a second recovery (the bug): right after the reap it is pending again
            wait_for(lambda q=q, j=job_id: queries.get_job(q, j).state in TERMINAL
                     or queries.get_job(q, j).crash_recoveries > 1, 30, "the job to finish")
        for q, job_id, _ in trials:
            job = queries.get_job(q, job_id)
            assert (job.state, job.crash_recoveries) == (JobState.DONE, 1), job
    finally:
        for _, _, w in trials:
            stop(w)


def test_thread_worker_with_stuck_slots_claims_nothing_for_them_and_exits_when_all_are(
        client: Redis, base_settings: IngestSettings, tmp_path: Path) -> None:
    """`burn` ignores its stop: after its timeout its thread stays busy. The worker must not
    claim for that slot, must show it as stuck, and must exit non-zero once every slot is."""
    s = fast_settings(base_settings, job_timeout_seconds=1.0, reaper_interval_seconds=3600.0)
    q = Queue(client, s)
    burn = q.enqueue("burn", {"seconds": 30.0}).id
    env = env_for(s, retry_backoff__base_seconds=100.0, retry_backoff__cap_seconds=100.0)
    w = ingestctl(env, "worker", "--concurrency", "2", "--no-reaper", log=tmp_path / "w.log")
    try:
        wait_for(lambda: any(x.stuck_slots == 1 for x in worker_registry.live_workers(q)), 90,
                 "one stuck slot in the worker registry")
        assert any("1 of 2 slot(s) stuck" in line for line in queue_status(q).warnings)
        assert [c.ok for c in check_liveness(q) if c.name == "stuck slots"] == [False]
        scrape = exposition(q.keys.queue, take(q), s.queue_recovery.reaper_interval_seconds)
        assert f'ingest_worker_stuck_slots{{queue="{q.keys.queue}"}} 1.0' in scrape.decode()
        noops = [r.id for r in q.enqueue_many([JobSpec("noop", {}) for _ in range(5)])]
        wait_for(lambda: all(queries.get_job(q, i).state is JobState.DONE for i in noops), 60,
                 "the noop jobs to run on the free slot")
        second = q.enqueue("burn", {"seconds": 30.0}).id  # takes the last slot for good
        waiting = [r.id for r in q.enqueue_many([JobSpec("noop", {}) for _ in range(5)])]
        assert w.wait(60) == EXIT_UNHEALTHY
        assert queries.counts(q)["processing"] == 0, "the exiting worker kept a job"
        assert {queries.get_job(q, i).state for i in (burn, second)} == {JobState.SCHEDULED}
        # nothing was hoarded: jobs claimed but never started went back (or were never taken)
        assert {queries.get_job(q, i).state for i in waiting} == {JobState.PENDING}
        assert "every slot (2) is stuck" in (tmp_path / "w.log").read_text()
    finally:
        stop(w)


def test_a_background_thread_that_dies_takes_the_worker_down(
        client: Redis, base_settings: IngestSettings, tmp_path: Path) -> None:
    """A fault inside the outbox thread (a handler breaks acks in its worker process). The worker
    used to live on half dead (claiming, never acking); now it hands its jobs back and exits
    non-zero."""
    s = fast_settings(base_settings, reaper_interval_seconds=3600.0)
    q = Queue(client, s)
    job_id = q.enqueue("breaks_the_outbox", {}).id
    w = ingestctl(env_for(s), "worker", "--import", "support.sample_handlers",
                  "--kinds", "breaks_the_outbox", "--no-reaper", log=tmp_path / "w.log")
    try:
        assert w.wait(90) == EXIT_UNHEALTHY  # includes the start: slow on a loaded machine
        log = (tmp_path / "w.log").read_text()
        assert "background thread died" in log and "ingestq-reporter" in log
        assert queries.get_job(q, job_id).state is JobState.PENDING  # handed back at once
    finally:
        stop(w)
