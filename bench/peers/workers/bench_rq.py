"""RQ: the tasks (JSON serializer: the project never uses pickle) and the producer."""

from __future__ import annotations

import time

from common import COUNT_KEY, LONG_SECONDS, STARTS_KEY, now, redis_url
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

_client = Redis.from_url(redis_url())


def count() -> None:
    """Count one run of the no-op."""
    _client.incr(COUNT_KEY)


def long() -> None:
    """Mark the start, then sleep 20 s."""
    _client.rpush(STARTS_KEY, now())
    time.sleep(LONG_SECONDS)


def _queue() -> Queue:
    return Queue("bench", connection=Redis.from_url(redis_url()), serializer=JSONSerializer)


def enqueue_noops(n: int) -> float:
    """Enqueue n no-ops with Queue.enqueue_many (one pipeline); return seconds."""
    q = _queue()
    started = time.perf_counter()
    q.enqueue_many([Queue.prepare_data(count) for _ in range(n)])
    return time.perf_counter() - started


def enqueue_long() -> None:
    """Enqueue the 20 s job with RQ's default job timeout."""
    _queue().enqueue(long)
