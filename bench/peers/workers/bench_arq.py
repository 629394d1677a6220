"""arq: the tasks, WorkerSettings (JSON job serializer instead of the default pickle)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, ClassVar

from arq import create_pool
from arq.connections import RedisSettings
from common import COUNT_KEY, LONG_SECONDS, STARTS_KEY, concurrency, now, redis_url

CHUNK = 500  # enqueue_job calls in flight at once


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()


async def count(ctx: dict[str, Any]) -> None:
    """Count one run of the no-op."""
    await ctx["redis"].incr(COUNT_KEY)


async def long(ctx: dict[str, Any]) -> None:
    """Mark the start, then sleep 20 s."""
    await ctx["redis"].rpush(STARTS_KEY, now())
    await asyncio.sleep(LONG_SECONDS)


class WorkerSettings:
    """What `arq bench_arq.WorkerSettings` runs; max_jobs is arq's default (10) unless set."""

    functions: ClassVar[list[Any]] = [count, long]
    redis_settings = RedisSettings.from_dsn(redis_url())
    job_serializer = staticmethod(_dumps)
    job_deserializer = staticmethod(json.loads)
    max_jobs = concurrency(10)


async def _enqueue(func: str, n: int) -> float:
    pool = await create_pool(WorkerSettings.redis_settings, job_serializer=_dumps,
                             job_deserializer=json.loads)
    started = time.perf_counter()
    for start in range(0, n, CHUNK):
        await asyncio.gather(*(pool.enqueue_job(func) for _ in range(min(CHUNK, n - start))))
    elapsed = time.perf_counter() - started
    await pool.aclose()
    return elapsed


def enqueue_noops(n: int) -> float:
    """Enqueue n no-ops, 500 enqueue_job calls concurrently at a time; return seconds."""
    return asyncio.run(_enqueue("count", n))


def enqueue_long() -> None:
    """Enqueue the 20 s job with arq's default job timeout."""
    asyncio.run(_enqueue("long", 1))
