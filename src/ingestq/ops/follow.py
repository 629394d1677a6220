"""Following a set of jobs until each is done or dead, and running local workers meanwhile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ingestq.core import queries
from ingestq.core.job import Job, JobState
from ingestq.core.queue import Queue
from ingestq.ops.local_workers import Layout

POLL_SECONDS = 0.3


@dataclass
class FollowResult:
    """How the followed jobs ended."""

    done: int = 0
    dead: list[Job] = field(default_factory=list)
    unfinished: int = 0  # still active when following stopped (timeout)
    results: list[Job] = field(default_factory=list)


def follow(queue: Queue, ids: Sequence[str], *, on_progress: Callable[[int, int], None]
           | None = None, timeout: float | None = None) -> FollowResult:
    """Poll job records (in pipelined batches) until every id is terminal or time runs out."""
    remaining = list(dict.fromkeys(ids))
    result = FollowResult()
    deadline = None if timeout is None else time.monotonic() + timeout
    while remaining:
        still = []
        for start in range(0, len(remaining), 1000):
            batch = remaining[start:start + 1000]
            found = {j.id: j for j in queries.get_jobs(queue, batch)}
            for job_id in batch:
                job = found.get(job_id)
                if job is None or job.state is JobState.DONE:
                    result.done += 1  # a trimmed record was done (only done jobs are trimmed)
                    if job is not None:
                        result.results.append(job)
                elif job.state is JobState.DEAD:
                    result.dead.append(job)
                else:
                    still.append(job_id)
        remaining = still
        if on_progress:
            on_progress(len(ids) - len(remaining), len(ids))
        if remaining:
            if deadline is not None and time.monotonic() > deadline:
                result.unfinished = len(remaining)
                break
            time.sleep(POLL_SECONDS)
    return result


class LocalWorkers:
    """`ingestctl worker` child processes for the duration of a command (embedded default).

    ``layout`` says how many and with how many slots (``local_workers.local_layout``: one
    process when each would hold its own copy of a model).
    """

    def __init__(self, layout: Layout, *, kinds: str | None = None,
                 config_file: str | None = None) -> None:
        args = [sys.executable, "-m", "ingestq.cli", "worker", *layout.argv()]
        if kinds:
            args += ["--kinds", kinds]
        env = os.environ.copy()
        if config_file:
            env["INGESTQ_CONFIG"] = config_file  # the workers read the same configuration
        self.procs = [subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       env=env) for _ in range(layout.processes)]

    def stop(self) -> None:
        """SIGTERM every worker (graceful) and wait for them."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
