"""Handlers for bench/chaos.py: each successful run appends one line to a side-effect log.

Line: ``job_id pid attempt unix_time``. The file is opened with O_APPEND for every line and each
line is written by one ``write``, so lines from concurrent processes never interleave; a job that
appears twice ran to completion twice.

    ingestctl worker --import chaos_handlers      # with PYTHONPATH=bench and CHAOS_LOG set
"""

from __future__ import annotations

import os
import time

from ingestq.errors import PermanentError, TransientError
from ingestq.worker.handlers import JobContext, default_registry

LOG = os.environ.get("CHAOS_LOG", "/tmp/chaos-effects.log")


def _effect(job: JobContext) -> None:
    fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{job.id} {os.getpid()} {job.attempt} {time.time():.6f}\n".encode())
    finally:
        os.close(fd)


@default_registry.handler("c_noop")
def c_noop(job: JobContext) -> None:
    """Nothing but the side effect."""
    _effect(job)


@default_registry.handler("c_sleep")
def c_sleep(job: JobContext) -> None:
    """Sleep ``payload.seconds``, then the side effect."""
    time.sleep(float(job.payload["seconds"]))
    _effect(job)


@default_registry.handler("c_fail")
def c_fail(job: JobContext) -> None:
    """Fail permanently or retryably (per ``payload.permanent``); never a side effect."""
    if job.payload.get("permanent"):
        raise PermanentError("chaos: permanent failure")
    raise TransientError("chaos: retryable failure")
