"""Workers under real signals: SIGKILL, SIGSTOP/SIGCONT, SIGTERM (once and twice), crashes."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from redis import Redis
from support.procs import env_for, ingestctl, stop, wait_for, wait_for_expired_leases
from support.settings import fast_settings

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.job import JobState
from ingestq.core.queue import Queue

pytestmark = pytest.mark.slow  # every test here starts real processes


@pytest.fixture
def fast(base_settings: IngestSettings) -> IngestSettings:
    """A unique queue with a 2 s lease, beats every 0.4 s and a reap pass every 0.5 s."""
    return fast_settings(base_settings)


def state_of(q: Queue, job_id: str) -> JobState:
    return queries.get_job(q, job_id).state


def test_sigkilled_workers_job_runs_again_once_its_lease_expires(
        client: Redis, fast: IngestSettings, tmp_path: Path) -> None:
    # How fast it comes back is a figure of bench/peers (recovery), not an assertion here: on a
    # loaded machine the second worker's start-up alone can take seconds.
    q = Queue(client, fast)
    job_id = q.enqueue("sleep", {"seconds": 1.5}).id
    env = env_for(fast)
    first = ingestctl(env, "worker", log=tmp_path / "a.log")
    second = None
    try:
        wait_for(lambda: state_of(q, job_id) is JobState.PROCESSING, 15, "first claim")
        first.send_signal(signal.SIGKILL)
        lease_until = queries.get_job(q, job_id).lease_until
        second = ingestctl(env, "worker", log=tmp_path / "b.log")
        wait_for(lambda: queries.get_job(q, job_id).crash_recoveries == 1, 30, "recovery")
        requeued = queries.get_job(q, job_id).requeued_at
        assert requeued is not None and lease_until is not None
        # Never taken back while the dead worker's lease could still have been renewed.
        assert requeued >= lease_until
        wait_for(lambda: state_of(q, job_id) is JobState.DONE, 15, "completion")
        job = queries.get_job(q, job_id)
        assert job.crash_recoveries == 1 and job.attempts == 2
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
    finally:
        stop(first)
        if second is not None:
            stop(second)


def test_stopped_worker_cannot_ack_after_its_lease_went_to_another(
        client: Redis, fast: IngestSettings, tmp_path: Path) -> None:
    q = Queue(client, fast)
    job_id = q.enqueue("sleep", {"seconds": 1.0}).id
    env = env_for(fast)
    zombie = ingestctl(env, "worker", "--no-reaper", log=tmp_path / "zombie.log")
    try:
        wait_for(lambda: state_of(q, job_id) is JobState.PROCESSING, 15, "first claim")
        zombie.send_signal(signal.SIGSTOP)
        other = ingestctl(env, "worker", "--burst", log=tmp_path / "other.log")
        assert other.wait(30) == 0
        assert state_of(q, job_id) is JobState.DONE
        zombie.send_signal(signal.SIGCONT)
        # the zombie's handler finishes and its heartbeat or ack hits the fence
        wait_for(lambda: "lease lost" in (tmp_path / "zombie.log").read_text(), 15,
                 "the zombie to find its lease lost")
        zombie.send_signal(signal.SIGTERM)
        assert zombie.wait(15) == 0
        assert queries.stats(q)["completed"] == 1
        assert queries.get_job(q, job_id).state is JobState.DONE
        log = (tmp_path / "zombie.log").read_text()
        assert "lease lost" in log
    finally:
        stop(zombie)


def test_sigterm_lets_a_short_job_finish_and_exits_zero(
        client: Redis, fast: IngestSettings, tmp_path: Path) -> None:
    q = Queue(client, fast)
    job_id = q.enqueue("sleep", {"seconds": 1.0}).id
    w = ingestctl(env_for(fast), "worker", log=tmp_path / "w.log")
    try:
        wait_for(lambda: state_of(q, job_id) is JobState.PROCESSING, 15, "claim")
        w.send_signal(signal.SIGTERM)
        assert w.wait(20) == 0
        assert state_of(q, job_id) is JobState.DONE
        assert queries.counts(q)["processing"] == 0
    finally:
        stop(w)


def test_sigterm_releases_a_job_longer_than_grace_at_once(
        client: Redis, fast: IngestSettings, tmp_path: Path) -> None:
    q = Queue(client, fast)
    job_id = q.enqueue("sleep", {"seconds": 30}).id
    env = env_for(fast, worker__shutdown_grace_seconds=1)
    w = ingestctl(env, "worker", log=tmp_path / "w.log")
    try:
        wait_for(lambda: state_of(q, job_id) is JobState.PROCESSING, 15, "claim")
        started = time.monotonic()
        w.send_signal(signal.SIGTERM)
        assert w.wait(15) == 0
        assert time.monotonic() - started < 5
        job = queries.get_job(q, job_id)
        assert job.state is JobState.PENDING and job.attempts == 0
        assert "release" in (tmp_path / "w.log").read_text()
    finally:
        stop(w)
    # another worker completes it; only its own attempt is charged
    client.hset(q.keys.job(job_id), "payload", json.dumps({"seconds": 0.1}))
    other = ingestctl(env, "worker", "--burst")
    assert other.wait(30) == 0
    job = queries.get_job(q, job_id)
    assert job.state is JobState.DONE and job.attempts == 1 and job.crash_recoveries == 0


def test_second_sigterm_releases_everything_and_exits(
        client: Redis, fast: IngestSettings, tmp_path: Path) -> None:
    q = Queue(client, fast)
    ids = [q.enqueue("sleep", {"seconds": 30}).id for _ in range(3)]
    w = ingestctl(env_for(fast), "worker", log=tmp_path / "w.log")
    try:
        wait_for(lambda: queries.counts(q)["processing"] == 3, 15, "three claims")
        w.send_signal(signal.SIGTERM)
        wait_for(lambda: "signal received" in (tmp_path / "w.log").read_text(), 10,
                 "the first SIGTERM to be taken")
        started = time.monotonic()
        w.send_signal(signal.SIGTERM)
        assert w.wait(15) == 0
        assert time.monotonic() - started < 5
        assert all(queries.get_job(q, i).state is JobState.PENDING for i in ids)
        assert queries.counts(q)["processing"] == 0
    finally:
        stop(w)


def test_crash_job_in_process_mode_is_seen_at_once_then_poison(
        client: Redis, base_settings: IngestSettings, tmp_path: Path) -> None:
    # a 60 s lease: recovery must come from seeing the child die, not from the lease running out
    settings = fast_settings(base_settings, lease_seconds=60.0, max_crash_recoveries=2)
    q = Queue(client, settings)
    job_id = q.enqueue("crash", {}).id
    w = ingestctl(env_for(settings), "worker", "--isolation", "process", "--concurrency", "1",
                  log=tmp_path / "w.log")
    try:
        wait_for(lambda: state_of(q, job_id) is JobState.DEAD, 40, "poison")
        job = queries.get_job(q, job_id)
        assert job.dead_reason == "poison" and job.crash_recoveries == 3
        assert "SIGKILL" in job.errors[-1]["message"]
        assert queries.stats(q).get("reaped:requeue", 0) == 0
        assert w.poll() is None  # the worker itself survived every crash
    finally:
        w.send_signal(signal.SIGTERM)
        assert w.wait(15) == 0


@pytest.mark.parametrize(("kind", "args"), [
    ("burn", []), ("block_loop", ["--import", "support.sample_handlers"]),
    ("stubborn", ["--import", "support.sample_handlers"])])
def test_handler_hogging_cpu_or_loop_for_three_leases_keeps_its_job(
        client: Redis, fast: IngestSettings, tmp_path: Path, kind: str, args: list[str]
        ) -> None:
    q = Queue(client, fast)
    seconds = fast.queue_recovery.lease_seconds * 3
    job_id = q.enqueue(kind, {"seconds": seconds}).id
    env = env_for(fast)
    w = ingestctl(env, "worker", *args, log=tmp_path / "w.log")
    reaper = ingestctl(env, "reaper", log=tmp_path / "r.log")
    try:
        wait_for(lambda: state_of(q, job_id) is JobState.DONE, seconds + 20, "completion")
        job = queries.get_job(q, job_id)
        assert job.attempts == 1 and job.crash_recoveries == 0
        assert queries.stats(q).get("reaped:requeue", 0) == 0
    finally:
        for p in (w, reaper):
            p.send_signal(signal.SIGTERM)
        assert w.wait(15) == 0 and reaper.wait(15) == 0


def test_ten_reapers_at_once_reap_each_expired_lease_exactly_once(
        client: Redis, fast: IngestSettings) -> None:
    q = Queue(client, fast)
    from ingestq.core.queue import JobSpec

    q.enqueue_many([JobSpec("noop", {}) for _ in range(1000)])
    claimed = 0
    while claimed < 1000:
        claimed += len(q.claim("gone", 500, lease_seconds=0.2).jobs)
    wait_for_expired_leases(q, 1000)
    env = env_for(fast)
    reapers = [ingestctl(env, "reaper", "--once", "--json") for _ in range(10)]
    totals = []
    for r in reapers:
        stdout, _ = r.communicate(timeout=60)
        assert r.returncode == 0
        totals.append(json.loads(stdout)["total"])
    assert sum(totals) == 1000
    assert queries.stats(q)["reaped:requeue"] == 1000
    counts = queries.counts(q)
    assert counts["pending"] == 1000 and counts["processing"] == 0
    jobs = queries.list_jobs(q, JobState.PENDING, limit=2000)
    assert len(jobs) == 1000 and all(j.crash_recoveries == 1 for j in jobs)


def test_job_running_past_timeout_is_stopped_and_retried_with_reason_timeout(
        client: Redis, base_settings: IngestSettings, tmp_path: Path) -> None:
    settings = fast_settings(base_settings, job_timeout_seconds=1.0)
    q = Queue(client, settings)
    job_id = q.enqueue("stubborn", {"seconds": 30}, max_retries=0).id
    w = ingestctl(env_for(settings), "worker", "--import", "support.sample_handlers",
                  log=tmp_path / "w.log")
    try:
        wait_for(lambda: state_of(q, job_id) is JobState.DEAD, 20, "timeout to dead")
        job = queries.get_job(q, job_id)
        assert job.errors[-1]["reason"] == "timeout"
        assert job.dead_reason == "retries_exhausted"
    finally:
        w.send_signal(signal.SIGTERM)
        assert w.wait(15) == 0


def test_sigterm_during_start_up_is_held_and_the_worker_exits_zero(
        client: Redis, fast: IngestSettings, tmp_path: Path) -> None:
    q = Queue(client, fast)
    job_id = q.enqueue("noop", {}).id
    marker = tmp_path / "importing"
    env = {**env_for(fast), "SLOW_START_MARKER": str(marker), "SLOW_START_SECONDS": "2"}
    w = ingestctl(env, "worker", "--import", "support.slow_start_handlers", log=tmp_path / "w.log")
    try:
        wait_for(marker.exists, 30, "the worker to start importing its handler module")
        w.send_signal(signal.SIGTERM)  # before the worker's own handlers exist
        assert w.wait(30) == 0, (tmp_path / "w.log").read_text()
        assert state_of(q, job_id) is JobState.PENDING  # stopped before claiming anything
    finally:
        stop(w)

