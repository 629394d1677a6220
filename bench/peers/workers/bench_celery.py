"""Celery with the Redis broker: the tasks and the producer."""

from __future__ import annotations

import time

from celery import Celery
from common import COUNT_KEY, LONG_SECONDS, STARTS_KEY, now, redis_url
from redis import Redis

app = Celery("bench_celery", broker=redis_url())
_client = Redis.from_url(redis_url())


@app.task
def count() -> None:
    """Count one run of the no-op."""
    _client.incr(COUNT_KEY)


@app.task
def long() -> None:
    """Mark the start, then sleep 20 s."""
    _client.rpush(STARTS_KEY, now())
    time.sleep(LONG_SECONDS)


def enqueue_noops(n: int) -> float:
    """Enqueue n no-ops with task.delay, one at a time (Celery has no batch publish)."""
    started = time.perf_counter()
    for _ in range(n):
        count.delay()
    return time.perf_counter() - started


def enqueue_long() -> None:
    """Enqueue the 20 s job."""
    long.delay()
