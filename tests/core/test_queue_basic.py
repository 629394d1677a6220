"""Enqueue, claim, ack, fail, release and reap, each transition and each refusal."""

from __future__ import annotations

import pytest

from ingestq.core import queries, snapshot
from ingestq.core.job import JobState, exception_entry
from ingestq.core.queue import ManualClock, Queue
from ingestq.errors import JobNotFound, LeaseLost, PayloadError

pytestmark = pytest.mark.topologies  # the contract holds on single, Sentinel and Cluster


def entry(msg: str = "boom") -> dict[str, object]:
    return exception_entry(RuntimeError(msg), "error")


def test_enqueued_job_is_pending_with_its_payload(queue: Queue) -> None:
    job_id = queue.enqueue("noop", {"a": 1}).id
    job = queries.get_job(queue, job_id)
    assert job.state is JobState.PENDING
    assert job.payload == {"a": 1}
    assert queries.counts(queue)["pending"] == 1


def test_claim_returns_jobs_fifo_across_kinds_with_tokens(queue: Queue) -> None:
    ids = [queue.enqueue(kind, {}).id for kind in ("a", "b", "a", "c", "b")]
    batch = queue.claim("w1", 10)
    assert [j.id for j in batch.jobs] == ids
    assert all(j.token == "1" for j in batch.jobs)
    assert queries.counts(queue)["processing"] == 5


def test_claim_filters_by_kind(queue: Queue) -> None:
    queue.enqueue("a", {})
    b = queue.enqueue("b", {}).id
    assert [j.id for j in queue.claim("w", 10, kinds=["b"]).jobs] == [b]


def test_ack_completes_and_stale_token_is_refused(queue: Queue) -> None:
    queue.enqueue("noop", {})
    job = queue.claim("w", 1).jobs[0]
    with pytest.raises(LeaseLost):
        queue.ack(job.id, "999")
    assert queries.get_job(queue, job.id).state is JobState.PROCESSING
    queue.ack(job.id, job.token)
    assert queries.get_job(queue, job.id).state is JobState.DONE
    with pytest.raises(LeaseLost):
        queue.ack(job.id, job.token)


def test_ack_of_unknown_job_is_job_not_found(queue: Queue) -> None:
    with pytest.raises(JobNotFound):
        queue.ack("12345", "1")


def test_retryable_failure_schedules_with_backoff_then_dies(queue: Queue, clock: ManualClock
                                                            ) -> None:
    job_id = queue.enqueue("fail", {}, max_retries=1).id
    job = queue.claim("w", 1).jobs[0]
    out = queue.fail(job.id, job.token, entry())
    assert out.state is JobState.SCHEDULED
    assert 0.5 <= out.delay_seconds <= 1.0  # base 1 s, jitter 0.5
    assert queue.claim("w", 1).jobs == []  # not due yet
    clock.advance(1.0)
    again = queue.claim("w", 1).jobs[0]
    assert again.id == job_id and again.token == "2"
    out = queue.fail(again.id, again.token, entry("second"))
    assert out.state is JobState.DEAD and out.dead_reason == "retries_exhausted"
    dead = queries.get_job(queue, job_id)
    assert [e["message"] for e in dead.errors] == ["boom", "second"]
    assert dead.last_error == "RuntimeError: second"


def test_permanent_failure_goes_straight_to_dead(queue: Queue) -> None:
    queue.enqueue("fail", {})
    job = queue.claim("w", 1).jobs[0]
    out = queue.fail(job.id, job.token, entry(), mode="permanent")
    assert out.dead_reason == "permanent"
    assert queries.stats(queue)["dead:permanent"] == 1


def test_crash_returns_job_at_once_until_budget_then_poison(queue: Queue) -> None:
    queue.enqueue("crash", {})
    budget = queue.settings.queue_recovery.max_crash_recoveries
    for _ in range(budget):
        job = queue.claim("w", 1).jobs[0]
        assert queue.fail(job.id, job.token, entry(), mode="crash").state is JobState.PENDING
    job = queue.claim("w", 1).jobs[0]
    out = queue.fail(job.id, job.token, entry(), mode="crash")
    assert out.dead_reason == "poison"
    assert queries.get_job(queue, job.id).crash_recoveries == budget + 1


def test_fail_with_stale_token_changes_nothing(queue: Queue) -> None:
    queue.enqueue("x", {})
    job = queue.claim("w", 1).jobs[0]
    before = queue.client.hgetall(queue.keys.job(job.id))
    with pytest.raises(LeaseLost):
        queue.fail(job.id, "0", entry())
    assert queue.client.hgetall(queue.keys.job(job.id)) == before


def test_release_puts_job_at_front_without_charging_an_attempt(queue: Queue) -> None:
    first = queue.enqueue("x", {}).id
    queue.enqueue("x", {})
    job = queue.claim("w", 1).jobs[0]
    assert job.id == first
    queue.release(job.id, job.token)
    rec = queries.get_job(queue, first)
    assert rec.state is JobState.PENDING and rec.attempts == 0
    assert queue.claim("w", 1).jobs[0].id == first
    with pytest.raises(LeaseLost):
        queue.release(job.id, job.token)


def test_heartbeat_extends_lease_and_reports_lost(queue: Queue, clock: ManualClock) -> None:
    queue.enqueue("x", {})
    job = queue.claim("w", 1).jobs[0]
    clock.advance(8)
    assert queue.heartbeat("w", [(job.id, job.token), ("nope", "1")]) == {"nope"}
    clock.advance(8)  # 16 s after claim, 8 s after the beat: still inside the lease
    assert queue.reap() == []
    clock.advance(3)
    assert queue.reap() == [(job.id, "requeue")]
    assert queue.heartbeat("w", [(job.id, job.token)]) == {job.id}


def test_reap_requeues_expired_and_charges_a_crash_recovery(queue: Queue, clock: ManualClock
                                                            ) -> None:
    queue.enqueue("x", {})
    job = queue.claim("w", 1).jobs[0]
    clock.advance(queue.settings.queue_recovery.lease_seconds + 0.001)
    assert queue.reap() == [(job.id, "requeue")]
    rec = queries.get_job(queue, job.id)
    assert rec.state is JobState.PENDING and rec.crash_recoveries == 1
    assert snapshot.take(queue).reaper.last_reaped == 1
    with pytest.raises(LeaseLost):
        queue.ack(job.id, job.token)


def test_reap_marks_poison_after_crash_budget(queue: Queue, clock: ManualClock) -> None:
    queue.enqueue("x", {})
    budget = queue.settings.queue_recovery.max_crash_recoveries
    actions = []
    for _ in range(budget + 1):
        queue.claim("w", 1)
        clock.advance(60)
        actions += [a for _, a in queue.reap()]
    assert actions == ["requeue"] * budget + ["poison"]
    assert queries.counts(queue)["dead"] == 1


@pytest.mark.parametrize(("action", "state", "reason"), [
    ("dlq", JobState.DEAD, "stale"), ("fail", JobState.SCHEDULED, None)])
def test_stale_job_action_decides_what_reap_does(client, settings, clock, action, state,  # type: ignore[no-untyped-def]
                                                 reason) -> None:
    rc = settings.queue_recovery.model_copy(update={"stale_job_action": action})
    q = Queue(client, settings.model_copy(update={"queue_recovery": rc}), clock=clock)
    q.enqueue("x", {})
    job = q.claim("w", 1).jobs[0]
    clock.advance(60)
    assert q.reap() == [(job.id, action)]
    rec = queries.get_job(q, job.id)
    assert rec.state is state and rec.dead_reason == reason


def test_dedupe_key_returns_live_job_and_frees_after_done(queue: Queue) -> None:
    a = queue.enqueue("file", {"p": 1}, dedupe_key="k")
    b = queue.enqueue("file", {"p": 1}, dedupe_key="k")
    assert a.created and not b.created and a.id == b.id
    job = queue.claim("w", 1).jobs[0]
    assert queue.enqueue("file", {}, dedupe_key="k").id == a.id  # processing still holds it
    queue.ack(job.id, job.token)
    c = queue.enqueue("file", {}, dedupe_key="k")
    assert c.created and c.id != a.id


def test_dead_retry_resets_budgets_and_purge_deletes(queue: Queue) -> None:
    ids = []
    for _ in range(3):
        queue.enqueue("x", {})
        job = queue.claim("w", 1).jobs[0]
        queue.fail(job.id, job.token, entry(), mode="permanent")
        ids.append(job.id)
    assert queue.dead_retry([ids[0], "nope"]) == [1, -1]
    rec = queries.get_job(queue, ids[0])
    assert rec.state is JobState.PENDING and rec.failures == 0 and rec.attempts == 0
    assert queue.dead_retry([ids[0]]) == [-3]
    assert queue.dead_purge(ids[1:]) == [1, 1]
    assert queries.counts(queue)["dead"] == 0
    with pytest.raises(JobNotFound):
        queries.get_job(queue, ids[1])


def test_done_jobs_are_trimmed_by_count(client, settings, clock) -> None:  # type: ignore[no-untyped-def]
    qs = settings.queue.model_copy(update={"done_retention_count": 3})
    q = Queue(client, settings.model_copy(update={"queue": qs}), clock=clock)
    for _ in range(5):
        q.enqueue("x", {})
    q.ack_many([(j.id, j.token) for j in q.claim("w", 5).jobs])
    assert queries.counts(q)["done"] == 3
    assert queries.stats(q)["trimmed"] == 2


@pytest.mark.parametrize("payload", ["[1, 2]", "not json", '"str"', {"x": float("nan")}])
def test_malformed_payload_is_refused_at_enqueue(queue: Queue, payload: object) -> None:
    with pytest.raises(PayloadError):
        queue.enqueue("x", payload)
    assert queries.counts(queue)["pending"] == 0


def test_oversized_payload_is_refused_with_the_limit_named(queue: Queue) -> None:
    with pytest.raises(PayloadError, match="max_payload_bytes"):
        queue.enqueue("x", {"blob": "a" * 2_000_000})


def test_invalid_kind_is_refused(queue: Queue) -> None:
    with pytest.raises(PayloadError, match="kind"):
        queue.enqueue("bad kind,with comma", {})


def test_clean_takes_back_only_matching_tokens(queue: Queue) -> None:
    queue.enqueue("x", {})
    job = queue.claim("w", 1).jobs[0]
    assert queue.clean([(job.id, "0")]) == []
    assert queue.clean([(job.id, job.token)]) == [(job.id, "requeue")]
    assert queries.get_job(queue, job.id).failures == 1


def test_processing_age_histogram_tracks_claims_and_exits(queue: Queue, clock: ManualClock
                                                          ) -> None:
    for _ in range(3):
        queue.enqueue("x", {})
    first = queue.claim("w", 1).jobs[0]
    clock.advance(45)
    rest = queue.claim("w", 2).jobs
    clock.advance(5)  # ages now 50, 5, 5
    snap = snapshot.take(queue)  # buckets 30, 60, 120, ...
    assert snap.age_buckets[:3] == [(30, 2), (60, 3), (120, 3)] and snap.age_count == 3
    assert snap.age_sum == pytest.approx(60.0)
    queue.ack(first.id, first.token)
    queue.release(rest[0].id, rest[0].token)
    snap = snapshot.take(queue)
    assert snap.age_count == 1 and snap.age_sum == pytest.approx(5.0)


def test_ack_keeps_the_handlers_result(queue: Queue) -> None:
    queue.enqueue("x", {})
    job = queue.claim("w", 1).jobs[0]
    queue.ack(job.id, job.token, {"status": "skipped", "reason": "unchanged"})
    assert queries.get_job(queue, job.id).result == {"status": "skipped", "reason": "unchanged"}
