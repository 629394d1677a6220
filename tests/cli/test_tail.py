"""tail follows a job to its end, and never hangs when nothing can run it."""

from __future__ import annotations

import json
import select
import time

import pytest
from support.procs import env_for, ingestctl, stop

from ingestq.config import IngestSettings
from ingestq.core.queue import Queue

from .conftest import Invoke, make_dead


@pytest.mark.slow
def test_tail_follows_a_job_run_by_a_real_worker_and_exits_0_when_it_is_done(
        invoke: Invoke, settings: IngestSettings, live_queue: Queue) -> None:
    job_id = live_queue.enqueue("sleep", {"seconds": 1.0}).id
    worker = ingestctl(env_for(settings), "worker", "--burst")
    try:
        result = invoke("tail", job_id, "--json", "--timeout", "20")
    finally:
        worker.wait(30)
        stop(worker)
    assert result.exit_code == 0, result.stderr
    assert f"job {job_id} is done" in result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(e["job"] == job_id for e in events)
    assert [e["type"] for e in events][-2:] == ["completed", "end"]
    assert all(set(e) == {"id", "type", "job", "kind", "t", "fields"} for e in events)


def test_tail_of_a_job_no_worker_serves_exits_1_after_the_timeout(
        invoke: Invoke, live_queue: Queue) -> None:
    job_id = live_queue.enqueue("noop", {}).id
    started = time.monotonic()
    result = invoke("tail", job_id, "--timeout", "1")
    assert result.exit_code == 1
    assert time.monotonic() - started < 5
    assert "no live worker" in result.stderr and "pending" in result.stderr


def test_tail_of_a_dead_job_exits_1_at_once_with_its_reason(invoke: Invoke,
                                                            live_queue: Queue) -> None:
    [job_id] = make_dead(live_queue, "fail")
    result = invoke("tail", job_id, "--timeout", "30")
    assert result.exit_code == 1
    assert "dead (permanent)" in result.stderr


@pytest.mark.slow
def test_tail_without_a_job_streams_every_new_event_as_json_lines(
        settings: IngestSettings, live_queue: Queue) -> None:
    proc = ingestctl(env_for(settings), "tail", "--json")
    assert proc.stdout is not None
    ids: list[str] = []
    try:
        deadline = time.monotonic() + 20
        # keep producing until tail (still importing at first) prints: no fixed sleep to race
        while not select.select([proc.stdout], [], [], 0.3)[0]:
            assert time.monotonic() < deadline, "tail printed nothing"
            ids.append(live_queue.enqueue("noop", {}).id)
        line = proc.stdout.readline()
    finally:
        stop(proc)
    event = json.loads(line)
    assert event["type"] == "enqueued" and event["kind"] == "noop" and event["job"] in ids


def test_tail_json_on_a_finished_job_prints_its_end_and_fields_are_typed(
        invoke: Invoke, live_queue: Queue) -> None:
    import json

    job = live_queue.enqueue("noop", {}).id
    claimed = live_queue.claim("w", 1).jobs[0]
    live_queue.ack(claimed.id, claimed.token)
    result = invoke("tail", job, "--json")
    assert result.exit_code == 0
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["type"] == "end" and line["job"] == job and line["id"] is None
    assert line["fields"]["end"] == "done" and line["fields"]["state"] == "done"
    assert set(line) == {"id", "type", "job", "kind", "t", "fields"}
    from ingestq.core.events import events_of

    (event,) = events_of("1-0", {"type": "claimed", "job": "4", "kind": "noop", "t": "1000",
                                 "attempt": "2", "worker": "h:1:ab"})
    assert event.to_dict()["fields"] == {"attempt": 2, "worker": "h:1:ab"}


def test_workers_json_gives_kinds_as_a_list(invoke: Invoke, live_queue: Queue) -> None:
    import json

    from ingestq.core import worker_registry

    worker_registry.publish(live_queue, "h:1:ab", concurrency=2, kinds=["file", "noop"],
                            isolation="thread")
    (worker,) = json.loads(invoke("workers", "--json").stdout)
    assert worker["kinds"] == ["file", "noop"]
