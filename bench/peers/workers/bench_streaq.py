"""streaq: the worker (JSON serializer instead of the default pickle) and the producer."""

from __future__ import annotations

import asyncio
import json
import time

from common import COUNT_KEY, LONG_SECONDS, STARTS_KEY, concurrency, now, redis_url
from redis.asyncio import Redis
from streaq import Worker

CHUNK = 500

worker = Worker(redis_url=redis_url(), queue_name="bench", serializer=json.dumps,
                deserializer=json.loads, concurrency=concurrency(16))
_client: Redis | None = None


def _redis() -> Redis:
    # Created lazily, inside the worker's event loop.
    global _client
    if _client is None:
        _client = Redis.from_url(redis_url())
    return _client


@worker.task()
async def count() -> None:
    """Count one run of the no-op."""
    await _redis().incr(COUNT_KEY)


@worker.task()
async def long() -> None:
    """Mark the start, then sleep 20 s."""
    await _redis().rpush(STARTS_KEY, now())
    await asyncio.sleep(LONG_SECONDS)


async def _enqueue(n: int) -> float:
    async with worker:
        started = time.perf_counter()
        for start in range(0, n, CHUNK):
            await worker.enqueue_many([count.enqueue() for _ in range(min(CHUNK, n - start))])
        return time.perf_counter() - started


def enqueue_noops(n: int) -> float:
    """Enqueue n no-ops with worker.enqueue_many, 500 per call; return seconds."""
    return asyncio.run(_enqueue(n))


async def _enqueue_long() -> None:
    async with worker:
        await long.enqueue()


def enqueue_long() -> None:
    """Enqueue the 20 s job."""
    asyncio.run(_enqueue_long())
