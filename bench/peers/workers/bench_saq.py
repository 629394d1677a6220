"""SAQ: the queue, the worker settings and the producer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from common import COUNT_KEY, LONG_SECONDS, STARTS_KEY, concurrency, now, redis_url
from saq import Queue

CHUNK = 500
LONG_TIMEOUT = 60  # SAQ's default job timeout is 10 s: a 20 s job needs a longer one to run

queue = Queue.from_url(redis_url(), name="bench")


async def count(ctx: dict[str, Any]) -> None:
    """Count one run of the no-op."""
    await queue.redis.incr(COUNT_KEY)


async def long(ctx: dict[str, Any]) -> None:
    """Mark the start, then sleep 20 s."""
    await queue.redis.rpush(STARTS_KEY, now())
    await asyncio.sleep(LONG_SECONDS)


settings = {"queue": queue, "functions": [count, long], "concurrency": concurrency(10)}


async def _enqueue(n: int) -> float:
    await queue.connect()
    started = time.perf_counter()
    for start in range(0, n, CHUNK):
        await asyncio.gather(*(queue.enqueue("count") for _ in range(min(CHUNK, n - start))))
    elapsed = time.perf_counter() - started
    await queue.disconnect()
    return elapsed


def enqueue_noops(n: int) -> float:
    """Enqueue n no-ops, 500 queue.enqueue calls concurrently at a time; return seconds."""
    return asyncio.run(_enqueue(n))


async def _enqueue_long() -> None:
    await queue.connect()
    await queue.enqueue("long", timeout=LONG_TIMEOUT)
    await queue.disconnect()


def enqueue_long() -> None:
    """Enqueue the 20 s job (timeout 60 s, see LONG_TIMEOUT)."""
    asyncio.run(_enqueue_long())
