"""Dramatiq: the actors on a RedisBroker, and the producer."""

from __future__ import annotations

import time

import dramatiq
from common import COUNT_KEY, LONG_SECONDS, STARTS_KEY, now, redis_url
from dramatiq.brokers.redis import RedisBroker
from redis import Redis

dramatiq.set_broker(RedisBroker(url=redis_url()))
_client = Redis.from_url(redis_url())


@dramatiq.actor
def count() -> None:
    """Count one run of the no-op."""
    _client.incr(COUNT_KEY)


@dramatiq.actor
def long() -> None:
    """Mark the start, then sleep 20 s."""
    _client.rpush(STARTS_KEY, now())
    time.sleep(LONG_SECONDS)


def enqueue_noops(n: int) -> float:
    """Enqueue n no-ops with actor.send, one at a time (Dramatiq has no batch send)."""
    started = time.perf_counter()
    for _ in range(n):
        count.send()
    return time.perf_counter() - started


def enqueue_long() -> None:
    """Enqueue the 20 s job."""
    long.send()
