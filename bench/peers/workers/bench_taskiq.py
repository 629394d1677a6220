"""taskiq with taskiq-redis's RedisStreamBroker (the one with acknowledgements)."""

from __future__ import annotations

import asyncio
import time

from common import COUNT_KEY, LONG_SECONDS, STARTS_KEY, now, redis_url
from redis.asyncio import Redis
from taskiq_redis import RedisStreamBroker

CHUNK = 500

broker = RedisStreamBroker(url=redis_url())
_client: Redis | None = None


def _redis() -> Redis:
    # Created lazily, inside the worker's event loop.
    global _client
    if _client is None:
        _client = Redis.from_url(redis_url())
    return _client


@broker.task
async def count() -> None:
    """Count one run of the no-op."""
    await _redis().incr(COUNT_KEY)


@broker.task
async def long() -> None:
    """Mark the start, then sleep 20 s."""
    await _redis().rpush(STARTS_KEY, now())
    await asyncio.sleep(LONG_SECONDS)


async def _enqueue(n: int) -> float:
    await broker.startup()
    started = time.perf_counter()
    for start in range(0, n, CHUNK):
        await asyncio.gather(*(count.kiq() for _ in range(min(CHUNK, n - start))))
    elapsed = time.perf_counter() - started
    await broker.shutdown()
    return elapsed


def enqueue_noops(n: int) -> float:
    """Enqueue n no-ops, 500 kiq() calls concurrently at a time; return seconds."""
    return asyncio.run(_enqueue(n))


async def _enqueue_long() -> None:
    await broker.startup()
    await long.kiq()
    await broker.shutdown()


def enqueue_long() -> None:
    """Enqueue the 20 s job."""
    asyncio.run(_enqueue_long())
