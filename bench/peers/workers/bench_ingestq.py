"""ingestq: a counting no-op and a 20 s job with a start marker, loaded by `ingestctl worker -i`."""

from __future__ import annotations

import time

from common import COUNT_KEY, LONG_SECONDS, STARTS_KEY, now, redis_url
from redis import Redis

from ingestq.config import load_config
from ingestq.core.connection import connect
from ingestq.core.queue import JobSpec, Queue
from ingestq.worker.handlers import JobContext, default_registry

_client = Redis.from_url(redis_url())


@default_registry.handler("bench_count")
def count(job: JobContext) -> None:
    """Count one run of the no-op."""
    _client.incr(COUNT_KEY)


@default_registry.handler("bench_long")
def long(job: JobContext) -> None:
    """Mark the start, then sleep 20 s (waking early on a stop request, as handlers should)."""
    _client.rpush(STARTS_KEY, now())
    job.stop_event.wait(LONG_SECONDS)


def _queue() -> Queue:
    settings = load_config(environ={"INGESTQ_REDIS_URL": redis_url()}).ingest
    return Queue(connect(settings, warn_risks=False), settings)


def enqueue_noops(n: int) -> float:
    """Enqueue n counting no-ops with Queue.enqueue_many (500 per script); return seconds."""
    q = _queue()
    specs = [JobSpec("bench_count", {}) for _ in range(n)]
    started = time.perf_counter()
    q.enqueue_many(specs)
    return time.perf_counter() - started


def enqueue_long() -> None:
    """Enqueue the 20 s job."""
    _queue().enqueue("bench_long", {})
