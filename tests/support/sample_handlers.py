"""Handlers for the crash tests, imported by worker processes: --import support.sample_handlers."""

from __future__ import annotations

import asyncio
import os
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


@default_registry.handler("counted_steps")
def counted_steps(job: JobContext) -> dict[str, int]:
    """Reports progress over ``payload.steps`` steps of ``payload.step_seconds`` each."""
    steps = int(job.payload.get("steps", 5))
    for i in range(steps):
        if job.should_stop():
            break
        time.sleep(float(job.payload.get("step_seconds", 0.2)))
        job.progress(i + 1, steps, f"step {i + 1}")
    return {"steps": steps}

@default_registry.handler("effect")
def effect(job: JobContext) -> dict[str, object]:
    """Append ``id n`` to $EFFECTS_LOG (one write, O_APPEND: lines never interleave)."""
    fd = os.open(os.environ["EFFECTS_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{job.id} {job.payload['n']}\n".encode())
    finally:
        os.close(fd)
    return {"n": job.payload["n"]}


@default_registry.handler("circular")
def circular(job: JobContext) -> dict[str, object]:
    """Returns a result JSON cannot encode (it contains itself): the outbox cannot store it."""
    result: dict[str, object] = {}
    result["self"] = result
    return result
