"""Handlers for the crash tests, imported by worker processes: --import support.sample_handlers."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

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
    """Returns a result JSON cannot encode (it contains itself)."""
    result: dict[str, object] = {}
    result["self"] = result
    return result


@default_registry.handler("breaks_the_outbox")
def breaks_the_outbox(job: JobContext) -> None:
    """Makes every ack in this worker process raise: a fault inside the outbox thread."""
    from ingestq.core.queue import Queue

    def broken(*args: object, **kwargs: object) -> list[int]:
        raise RuntimeError("ack_many broken by the test handler")
    Queue.ack_many = broken  # type: ignore[method-assign]


@default_registry.handler("unstorable_result")
def unstorable_result(job: JobContext) -> dict[tuple[int, int], str]:
    """Returns what JSON cannot hold (a key that is not a string)."""
    return {(1, 2): "tuple key"}


@default_registry.handler("unstorable_result_in_child", isolation="process")
def unstorable_result_in_child(job: JobContext) -> dict[tuple[int, int], str]:
    """The same, from a child process."""
    return {(1, 2): "tuple key"}


@default_registry.handler("storable_result")
def storable_result(job: JobContext) -> dict[str, object]:
    """A result with a value JSON cannot hold as such (stored as its string)."""
    return {"count": 3, "path": Path("/docs/a.md")}
