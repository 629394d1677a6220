"""pause, resume, cancel, run-now, enqueue --delay/--at/--max-retries and progress in jobs show."""

from __future__ import annotations

from ingestq.core import queries
from ingestq.core.controls import report_progress
from ingestq.core.job import JobState, Progress
from ingestq.core.queue import Queue

from .conftest import Invoke, parse


def test_pause_shows_in_status_until_resume(invoke: Invoke, live_queue: Queue) -> None:
    live_queue.enqueue("noop", {})
    assert parse(invoke("pause", "noop", "--json")) == {"kind": "noop", "paused": True,
                                                       "changed": True}
    status = parse(invoke("status", "--json"))
    assert status["paused_kinds"] == ["noop"]
    assert any("paused" in w and "noop" in w for w in status["warnings"])
    assert live_queue.claim("w", 5).jobs == []
    res = invoke("resume", "noop")
    assert res.exit_code == 0 and "noop resumed" in res.stdout
    assert parse(invoke("status", "--json"))["paused_kinds"] == []
    assert len(live_queue.claim("w", 5).jobs) == 1


def test_cancel_moves_a_pending_job_to_dead_and_a_second_cancel_exits_1(
        invoke: Invoke, live_queue: Queue) -> None:
    job_id = live_queue.enqueue("noop", {}).id
    assert parse(invoke("cancel", job_id, "--json"))["was"] == "pending"
    job = queries.get_job(live_queue, job_id)
    assert (job.state, job.dead_reason) == (JobState.DEAD, "cancelled")
    again = invoke("cancel", job_id)
    assert again.exit_code == 1 and "already dead" in again.stderr


def test_enqueue_with_delay_schedules_and_run_now_makes_it_due(
        invoke: Invoke, live_queue: Queue) -> None:
    [made] = parse(invoke("enqueue", "noop", "--delay", "3600", "--max-retries", "7", "--json"))
    job = queries.get_job(live_queue, made["id"])
    now = queries.server_time_ms(live_queue) / 1000.0
    assert job.state is JobState.SCHEDULED and job.max_retries == 7
    assert job.due_at is not None and 3590 < job.due_at - now <= 3600
    assert invoke("run-now", made["id"]).exit_code == 0
    assert [c.id for c in live_queue.claim("w", 5).jobs] == [made["id"]]


def test_enqueue_at_an_iso_time_schedules_for_that_time(invoke: Invoke, live_queue: Queue
                                                        ) -> None:
    from datetime import UTC, datetime

    now = queries.server_time_ms(live_queue) / 1000.0
    at = datetime.fromtimestamp(now + 600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    [made] = parse(invoke("enqueue", "noop", "--at", at, "--json"))
    due = queries.get_job(live_queue, made["id"]).due_at
    assert due is not None and abs(due - (now + 600)) < 2


def test_enqueue_refuses_a_past_time_and_both_delay_and_at(invoke: Invoke) -> None:
    past = invoke("enqueue", "noop", "--at", "2001-01-01T00:00:00Z")
    assert past.exit_code == 2 and "in the past" in past.stderr
    both = invoke("enqueue", "noop", "--at", "2999-01-01", "--delay", "5")
    assert both.exit_code == 2 and "not both" in both.stderr
    bad = invoke("enqueue", "noop", "--at", "tomorrow")
    assert bad.exit_code == 2 and "not a time" in bad.stderr


def test_jobs_show_prints_the_last_progress(invoke: Invoke, live_queue: Queue) -> None:
    live_queue.enqueue("file", {"path": "/x.md"})
    c = live_queue.claim("w", 1).jobs[0]
    report_progress(live_queue, [(c.id, c.token, Progress(3, 12, "sections embedded"))])
    res = invoke("jobs", "show", c.id)
    assert res.exit_code == 0 and "3/12 (25%) sections embedded" in res.stdout
    assert parse(invoke("jobs", "show", c.id, "--json"))["progress"]["done"] == 3


def test_tail_of_a_job_prints_its_progress_events(invoke: Invoke, live_queue: Queue) -> None:
    import threading
    import time

    live_queue.enqueue("file", {"path": "/x.md"})
    c = live_queue.claim("w", 1).jobs[0]

    def run() -> None:
        time.sleep(1.0)  # after tail has positioned its reader
        report_progress(live_queue, [(c.id, c.token, Progress(5, 8, "sections embedded"))])
        live_queue.ack(c.id, c.token)

    threading.Thread(target=run, daemon=True).start()
    res = invoke("tail", c.id, "--timeout", "10")
    assert res.exit_code == 0, res.stderr
    assert "progress" in res.stdout and "done=5 total=8 note=sections embedded" in res.stdout
