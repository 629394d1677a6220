"""A handler's result: stored as JSON, and one JSON cannot hold fails its job, not the worker."""

from __future__ import annotations

import pytest
from redis import Redis
from support.procs import env_for, ingestctl

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.job import JobState
from ingestq.core.queue import Queue, encode_result
from ingestq.errors import ResultError


def test_a_result_json_cannot_hold_is_refused_with_a_clear_error_and_the_job_kept(
        queue: Queue) -> None:
    queue.enqueue("x", {})
    job = queue.claim("w", 1).jobs[0]
    with pytest.raises(ResultError, match="cannot be stored as JSON"):
        queue.ack(job.id, job.token, {(1, 2): "tuple key"})
    assert queries.get_job(queue, job.id).state is JobState.PROCESSING  # nothing lost
    queue.ack(job.id, job.token, {"ok": True})
    assert queries.get_job(queue, job.id).state is JobState.DONE


def test_an_encoded_result_is_stored_as_it_is() -> None:
    once = encode_result({"a": [1, 2]})
    assert encode_result(once) == once == '{"a":[1,2]}'


@pytest.mark.parametrize("kind", ["unstorable_result", "circular", "unstorable_result_in_child"])
def test_a_handler_returning_what_json_cannot_hold_sends_its_job_to_dead_and_the_worker_goes_on(
        client: Redis, settings: IngestSettings, kind: str) -> None:
    queue = Queue(client, settings)
    bad = queue.enqueue(kind, {}).id
    good = queue.enqueue("storable_result", {}).id
    worker = ingestctl(env_for(settings), "worker", "--burst", "--import",
                       "support.sample_handlers", "--kinds", f"{kind},storable_result")
    assert worker.wait(60) == 0  # before the fix: exit 70, the batched ack raised in the outbox
    dead = queries.get_job(queue, bad)
    assert (dead.state, dead.dead_reason) == (JobState.DEAD, "permanent")
    assert "cannot be stored as JSON" in (dead.last_error or "")
    done = queries.get_job(queue, good)
    assert done.state is JobState.DONE
    assert done.result == {"count": 3, "path": "/docs/a.md"}
