"""status, enqueue, jobs list and jobs show through the real CLI."""

from __future__ import annotations

from ingestq.core.job import JobState
from ingestq.core.queue import Queue

from .conftest import Invoke, make_dead, parse

STATUS_KEYS = {"queue", "server_time", "counts", "oldest_pending_age_seconds", "stale",
               "live_workers", "worker_ids", "unserved_pending", "stuck_slots", "reaper",
               "throughput", "counters", "warnings", "paused_kinds"}
JOB_KEYS = {"id", "kind", "payload", "state", "attempts", "failures", "crash_recoveries",
            "max_retries", "token", "enqueued_at", "started_at", "claimed_at", "requeued_at",
            "failed_at", "finished_at", "lease_until", "due_at", "worker", "last_error",
            "dead_reason", "dedupe_key", "errors", "result", "progress"}


def test_status_json_has_the_documented_shape_and_warns_when_no_worker_serves_waiting_jobs(
        invoke: Invoke, live_queue: Queue) -> None:
    live_queue.enqueue("noop", {})
    live_queue.enqueue("noop", {})
    data = parse(invoke("status", "--json"))
    assert set(data) == STATUS_KEYS
    assert data["counts"] == {"pending": 2, "scheduled": 0, "processing": 0, "done": 0,
                              "dead": 0}
    assert set(data["reaper"]) == {"enabled", "interval_seconds", "last_run",
                                   "seconds_since_last_run", "last_reaped", "passes"}
    assert set(data["throughput"]) == {"window_seconds", "events", "completed_per_minute",
                                       "failed_per_minute"}
    assert data["throughput"]["events"]["enqueued"] == 2
    assert data["live_workers"] == 0
    assert any("no live worker" in w for w in data["warnings"])
    # every documented counter is present, zero or not
    assert data["counters"]["enqueued"] == 2 and data["counters"]["dead:poison"] == 0
    assert data["counters"]["reaped:requeue"] == 0 and data["counters"]["purged"] == 0


def test_status_counts_completions_of_the_last_minute_as_throughput(
        invoke: Invoke, live_queue: Queue) -> None:
    for _ in range(3):
        live_queue.enqueue("noop", {})
    batch = live_queue.claim("w", 3)
    live_queue.ack_many([(c.id, c.token) for c in batch.jobs])
    data = parse(invoke("status", "--json"))
    assert data["throughput"]["events"]["completed"] == 3
    assert data["throughput"]["window_seconds"] == 60.0
    assert data["throughput"]["completed_per_minute"] == 3.0
    assert data["counts"]["done"] == 3


def test_jobs_list_filters_by_state_and_kind_and_honours_the_limit(
        invoke: Invoke, live_queue: Queue) -> None:
    for _ in range(3):
        live_queue.enqueue("noop", {})
    live_queue.enqueue("sleep", {"seconds": 1})
    make_dead(live_queue, "fail")
    pending = parse(invoke("jobs", "list", "--state", "pending", "--kind", "noop", "--json"))
    assert [j["kind"] for j in pending] == ["noop"] * 3
    assert all(set(j) == JOB_KEYS and j["state"] == "pending" for j in pending)
    assert len(parse(invoke("jobs", "list", "--limit", "2", "--json"))) == 2
    everything = parse(invoke("jobs", "list", "--json"))
    assert {j["state"] for j in everything} == {"pending", "dead"}


def test_jobs_list_older_than_skips_jobs_younger_than_the_age(
        invoke: Invoke, live_queue: Queue) -> None:
    live_queue.enqueue("noop", {})
    assert parse(invoke("jobs", "list", "--older-than", "3600", "--json")) == []
    assert len(parse(invoke("jobs", "list", "--older-than", "0", "--json"))) == 1


def test_jobs_show_prints_the_whole_record_with_its_error_history(
        invoke: Invoke, live_queue: Queue) -> None:
    [job_id] = make_dead(live_queue, "fail")
    data = parse(invoke("jobs", "show", job_id, "--json"))
    assert set(data) == JOB_KEYS
    assert data["state"] == JobState.DEAD.value and data["dead_reason"] == "permanent"
    assert data["errors"][0]["message"] == "fail cannot be parsed"
    human = invoke("jobs", "show", job_id)
    assert human.exit_code == 0
    assert "error history (1 kept)" in human.stdout
    assert "fail cannot be parsed" in human.stdout


def test_jobs_show_of_an_unknown_id_exits_1_and_says_so(invoke: Invoke) -> None:
    result = invoke("jobs", "show", "999999")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr


def test_enqueue_with_a_payload_that_is_not_json_exits_2(invoke: Invoke) -> None:
    result = invoke("enqueue", "noop", "--payload", "{nope")
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr


def test_enqueue_json_returns_one_id_per_copy(invoke: Invoke, live_queue: Queue) -> None:
    data = parse(invoke("enqueue", "noop", "--count", "3", "--json"))
    assert [d["created"] for d in data] == [True, True, True]
    assert live_queue.client.llen(live_queue.keys.pending("noop")) == 3


def test_jobs_list_is_in_enqueue_order_across_kinds_so_limit_one_is_the_next_oldest(
        invoke: Invoke, live_queue: Queue) -> None:
    ids = [live_queue.enqueue(kind, {}).id for kind in ("b", "a", "b", "c", "a")]
    listed = parse(invoke("jobs", "list", "--state", "pending", "--json"))
    assert [j["id"] for j in listed] == ids
    (first,) = parse(invoke("jobs", "list", "--limit", "1", "--json"))
    assert first["id"] == ids[0]


def test_a_requeued_job_ages_from_its_enqueue_in_the_table_and_the_filter(
        invoke: Invoke, live_queue: Queue) -> None:
    import time

    job_id = live_queue.enqueue("noop", {}).id
    time.sleep(1.2)
    claimed = live_queue.claim("w", 1).jobs[0]
    live_queue.release(claimed.id, claimed.token)  # back to pending, requeued_at = now
    older = parse(invoke("jobs", "list", "--state", "pending", "--older-than", "1", "--json"))
    assert [j["id"] for j in older] == [job_id]
    table = invoke("jobs", "list", "--state", "pending")
    row = next(line for line in table.stdout.splitlines() if "noop" in line)
    assert " 1s " in row and " 0s " not in row


def test_job_data_is_printed_as_written(invoke: Invoke, live_queue: Queue) -> None:
    # rich would turn ":thumbs_up:" into an emoji; a payload or path must reach the operator as is
    job_id = live_queue.enqueue("noop", {"path": "docs/:thumbs_up:.md"}).id
    shown = invoke("jobs", "show", job_id)
    assert shown.exit_code == 0 and ":thumbs_up:" in shown.output
    listed = invoke("jobs", "list", "--state", "pending")
    assert ":thumbs_up:" in listed.output
