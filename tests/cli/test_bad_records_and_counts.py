"""ingestctl survives one bad stored record, and enqueue --count is bounded and batched."""

from __future__ import annotations

from redis import Redis

from ingestq.cli.commands.jobs import MAX_COUNT
from ingestq.core.queue import Queue

from .conftest import Invoke, make_dead, parse


def test_jobs_list_and_show_survive_a_bad_record(invoke: Invoke, live_queue: Queue,
                                                 client: Redis) -> None:
    ids = [live_queue.enqueue("noop", {"n": i}).id for i in range(3)]
    client.hset(live_queue.keys.job(ids[1]), "due_at", "1e+303")
    listed = invoke("jobs", "list", "--state", "pending", "--json")
    assert [j["id"] for j in parse(listed)] == [ids[0], ids[2]]
    assert f"job {ids[1]}" in listed.stderr and "unreadable" in listed.stderr
    table = invoke("jobs", "list")
    assert table.exit_code == 0 and "Traceback" not in table.output
    shown = invoke("jobs", "show", ids[1])
    assert shown.exit_code == 1 and f"job {ids[1]}" in shown.stderr
    assert "Traceback" not in shown.output
    assert invoke("jobs", "show", ids[0], "--json").exit_code == 0


def test_dead_list_survives_a_bad_record(invoke: Invoke, live_queue: Queue,
                                         client: Redis) -> None:
    ids = [make_dead(live_queue, "boom")[0] for _ in range(2)]
    client.hset(live_queue.keys.job(ids[0]), "finished_at", "inf")
    listed = invoke("dead", "list", "--json")
    assert [j["id"] for j in parse(listed)] == [ids[1]]
    assert f"job {ids[0]}" in listed.stderr


def test_enqueue_count_is_bounded(invoke: Invoke, live_queue: Queue) -> None:
    result = invoke("enqueue", "noop", "--count", str(MAX_COUNT + 1))
    assert result.exit_code == 2
    assert live_queue.client.hget(live_queue.keys.stats, "enqueued") is None


def test_enqueue_count_streams_batches_and_prints_every_id(invoke: Invoke,
                                                           live_queue: Queue) -> None:
    data = parse(invoke("enqueue", "noop", "--count", "1201", "--json"))
    assert len(data) == 1201 and len({j["id"] for j in data}) == 1201
    assert all(j["created"] for j in data)
    summary = invoke("enqueue", "noop", "--count", "3")
    assert summary.exit_code == 0 and "enqueued 3 noop job(s)" in summary.stdout
