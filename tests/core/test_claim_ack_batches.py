"""Claim and ack in batches: the same order as one job at a time, and one event per job for
every reader of the events stream although a batch is written as one stream entry."""

from __future__ import annotations

import dataclasses
import random
from typing import cast

import pytest
from redis import Redis

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.events import EventReader, events_of
from ingestq.core.job import Claimed
from ingestq.core.queue import JobSpec, ManualClock, Queue
from ingestq.ops.status import throughput


def one_at_a_time_order(lists: dict[str, list[str]], count: int) -> list[str]:
    """The documented rule, step by step: take the lowest id among the pending list heads."""
    lists = {k: list(v) for k, v in lists.items() if v}
    out: list[str] = []
    while lists and len(out) < count:
        kind = min(lists, key=lambda k: int(lists[k][0]))
        out.append(lists[kind].pop(0))
        if not lists[kind]:
            del lists[kind]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_claim_takes_jobs_in_the_order_of_single_claims(queue: Queue, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        queue.enqueue(rng.choice("abc"), {})
    # released jobs go back to the front, so the lists are not sorted by id any more
    taken = queue.claim("w", 25).jobs
    for job in rng.sample(taken, 10):
        queue.release(job.id, job.token)
    while True:
        lists = {k: cast(list[str], queue.client.lrange(queue.keys.pending(k), 0, -1))
                 for k in "abc"}
        count = rng.choice([1, 3, 7, 50])
        expected = one_at_a_time_order(lists, count)
        got = [j.id for j in queue.claim("w", count).jobs]
        assert got == expected
        if not got:
            break
    assert queries.counts(queue)["pending"] == 0


def test_batch_events_expand_to_one_event_per_job_with_its_fields(queue: Queue) -> None:
    ids = [queue.enqueue(kind, {}).id for kind in ("a", "b", "a")]
    reader = EventReader(queue)
    jobs = queue.claim("w7", 10).jobs
    queue.ack_many([(j.id, j.token) for j in jobs])
    events = reader.read(block_ms=100)
    claimed = [e for e in events if e.type == "claimed"]
    completed = [e for e in events if e.type == "completed"]
    assert [(e.job, e.kind, e.fields) for e in claimed] == [
        (i, k, {"attempt": "1", "worker": "w7"}) for i, k in zip(ids, "aba", strict=True)]
    assert [(e.job, e.kind, e.fields) for e in completed] == [
        (i, k, {}) for i, k in zip(ids, "aba", strict=True)]
    assert len({e.id for e in claimed}) == 1  # one stream entry for the whole claim


def test_a_single_job_keeps_the_single_event_entry(queue: Queue) -> None:
    job_id = queue.enqueue("a", {}).id
    job = queue.claim("w", 1).jobs[0]
    queue.ack(job.id, job.token)
    entries = cast(list[tuple[str, dict[str, str]]], queue.client.xrange(queue.keys.events))
    claimed = [f for _, f in entries if f["type"] == "claimed"]
    assert claimed == [{"type": "claimed", "job": job_id, "kind": "a", "t": claimed[0]["t"],
                        "attempt": "1", "worker": "w"}]


def test_events_of_reads_a_batch_entry_of_one_kind_and_of_several() -> None:
    same = events_of("5-0", {"type": "completed", "jobs": "1,2", "kind": "x", "t": "1000"})
    assert [(e.id, e.job, e.kind, e.t, e.fields) for e in same] == [
        ("5-0", "1", "x", 1.0, {}), ("5-0", "2", "x", 1.0, {})]
    mixed = events_of("6-0", {"type": "claimed", "jobs": "3,4", "kinds": "x,y", "t": "2000",
                              "each:attempt": "1,2", "worker": "w"})
    assert [(e.job, e.kind, e.fields) for e in mixed] == [
        ("3", "x", {"attempt": "1", "worker": "w"}), ("4", "y", {"attempt": "2", "worker": "w"})]


def test_throughput_counts_each_job_of_a_batch_entry(queue: Queue) -> None:
    for _ in range(5):
        queue.enqueue("a", {})
    jobs = queue.claim("w", 5).jobs
    queue.ack_many([(j.id, j.token) for j in jobs])
    now_ms = queries.server_time_ms(queue)
    assert throughput(queue, now_ms).events["completed"] == 5
    assert throughput(queue, now_ms).events["claimed"] == 5


def test_claimed_records_are_ordinary_frozen_claimed_values(queue: Queue) -> None:
    job_id = queue.enqueue("a", {"x": [1, 2]}).id
    queue.enqueue("a", {})
    first, second = queue.claim("w", 2).jobs
    rec = queries.get_job(queue, job_id)
    assert first == Claimed(job_id, "1", "a", {"x": [1, 2]}, 1, 0, 0, rec.enqueued_at or 0.0)
    assert second.payload == {} and second.payload is not first.payload
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.token = "2"  # type: ignore[misc]


def test_ack_trims_the_oldest_finished_jobs_by_age_then_by_count(
        client: Redis, settings: IngestSettings, clock: ManualClock) -> None:
    s = settings.model_copy(update={"queue": settings.queue.model_copy(
        update={"done_retention_seconds": 60.0, "done_retention_count": 3})})
    q = Queue(client, s, clock=clock)
    old = [q.enqueue("a", {}).id for _ in range(2)]
    jobs = q.claim("w", 2).jobs
    q.ack_many([(j.id, j.token) for j in jobs])
    clock.advance(61)  # the first two are now past the age limit
    new = [q.enqueue("a", {}).id for _ in range(5)]
    jobs = q.claim("w", 5).jobs
    q.ack_many([(j.id, j.token) for j in jobs])
    # by age: both old ones; by count: the two oldest of the five new ones
    assert client.zrange(q.keys.done, 0, -1) == new[2:]
    assert not any(client.exists(q.keys.job(i)) for i in old + new[:2])
    assert all(client.exists(q.keys.job(i)) for i in new[2:])
    assert queries.stats(q)["trimmed"] == 4


def test_the_rest_of_the_stream_comes_back_whole_and_at_once(queue: Queue) -> None:
    """`tail JOB` drains the stream this way once the record says the job ended, so that the
    job's last event is printed before the closing line however the reads and the ack raced."""
    reader = EventReader(queue)
    assert reader.rest() == []  # nothing new: at once (a blocking read would wait BLOCK_MS)
    ids = [s.id for s in queue.enqueue_many([JobSpec("a", {}) for _ in range(2100)])]
    events = reader.rest()
    assert [e.job for e in events if e.type == "enqueued"] == ids
    assert reader.rest() == []
