"""Diagnostic job kinds present in every install: noop, sleep, fail, crash."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from ingestq.errors import PermanentError, TransientError
from ingestq.worker.handlers import JobContext, default_registry


@default_registry.handler("noop")
def noop(job: JobContext) -> None:
    """Do nothing: for smoke tests and throughput benchmarks."""


@default_registry.handler("sleep")
def sleep(job: JobContext) -> dict[str, Any]:
    """Sleep ``payload.seconds`` (default 1), waking early when the attempt is stopped."""
    seconds = float(job.payload.get("seconds", 1.0))
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if job.stop_event.wait(min(left, 0.05)):
            break
    return {"slept": seconds}


@default_registry.handler("fail")
def fail(job: JobContext) -> None:
    """Fail: permanently when ``payload.permanent`` is true, else retryably."""
    if job.payload.get("permanent"):
        raise PermanentError("fail job asked for a permanent failure")
    raise TransientError("fail job asked for a retryable failure")


@default_registry.handler("crash")
def crash(job: JobContext) -> None:
    """Kill the process running it at once, with no cleanup (as the OOM killer would)."""
    os.kill(os.getpid(), signal.SIGKILL)


@default_registry.handler("burn")
def burn(job: JobContext) -> dict[str, Any]:
    """Burn the CPU in pure Python for ``payload.seconds``, ignoring stop requests."""
    deadline = time.monotonic() + float(job.payload.get("seconds", 1.0))
    n = 0
    while time.monotonic() < deadline:
        n += 1
    return {"loops": n}
