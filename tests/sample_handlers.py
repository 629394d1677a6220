"""Handlers used by the crash tests, imported by worker processes with --import sample_handlers."""

from __future__ import annotations

import asyncio
import time

from ingestq.worker.handlers import JobContext, default_registry


@default_registry.handler("block_loop")
async def block_loop(job: JobContext) -> None:
    """An async handler that wrongly blocks the event loop with a sync sleep."""
    time.sleep(float(job.payload.get("seconds", 1.0)))


@default_registry.handler("async_sleep")
async def async_sleep(job: JobContext) -> None:
    """A well-behaved async handler."""
    await asyncio.sleep(float(job.payload.get("seconds", 1.0)))


@default_registry.handler("stubborn", isolation="process")
def stubborn(job: JobContext) -> None:
    """Ignores stop requests: only killing its process ends it early."""
    deadline = time.monotonic() + float(job.payload.get("seconds", 1.0))
    while time.monotonic() < deadline:
        pass
