"""The reaper: recovers jobs whose lease ran out. Any number may run at once: reap.lua is atomic."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from ingestq.core import queries
from ingestq.core.connection import revive_embedded
from ingestq.core.queue import Queue
from ingestq.logs import get_logger

log = get_logger("ingestq.reaper")
PASS_LIMIT = 1000  # jobs per script call, so a huge backlog never blocks the server for long


@dataclass
class PassResult:
    """What one reap pass did (or, in a dry run, would do)."""

    actions: dict[str, int] = field(default_factory=dict)
    jobs: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def total(self) -> int:
        """Jobs handled."""
        return len(self.jobs)


def reap_once(queue: Queue, *, dry_run: bool = False) -> PassResult:
    """Run one pass: every expired lease, in script calls of PASS_LIMIT."""
    started = time.perf_counter()
    result = PassResult(dry_run=dry_run)
    if dry_run:
        action: str = queue.settings.queue_recovery.stale_job_action
        result.jobs = [(j.id, action) for j in queries.expired_jobs(queue, limit=100_000)]
    else:
        while True:
            handled = queue.reap(PASS_LIMIT)
            result.jobs.extend(handled)
            if len(handled) < PASS_LIMIT:
                break
    for job_id, action in result.jobs:
        result.actions[action] = result.actions.get(action, 0) + 1
        if not dry_run:
            log.info("reap", job_id=job_id, action=action)
    result.seconds = time.perf_counter() - started
    return result


def reap_until_stopped(queue: Queue, stop: threading.Event, *, once: bool = False,
                       dry_run: bool = False) -> Iterator[PassResult]:
    """Yield one pass every ``reaper_interval_seconds`` until ``stop`` is set.

    A Redis error does not end the loop: like a worker, the reaper waits (0.2 s more per
    failure in a row, at most 2 s), restarts the embedded server if that is what it uses, and
    tries again. With ``once`` the first error is raised: the caller asked for one pass.
    """
    interval = queue.settings.queue_recovery.reaper_interval_seconds
    errors = 0
    while True:
        try:
            result = reap_once(queue, dry_run=dry_run)
        except RedisError as exc:
            if once:
                raise
            errors += 1
            pause = min(0.2 * errors, 2.0)
            log.warning("redis unavailable", error=str(exc), retry_in=pause)
            if stop.wait(pause):
                return
            revive_embedded(queue.settings)
            continue
        if errors:
            log.info("redis reachable again", failures=errors)
            errors = 0
        yield result
        if once or stop.wait(interval):
            return


class ReaperThread(threading.Thread):
    """Reaps every ``reaper_interval_seconds`` until stopped; Redis errors are logged, not fatal."""

    def __init__(self, queue: Queue, fatal: Callable[[str], None] | None = None) -> None:
        super().__init__(name="ingestq-reaper", daemon=True)
        self.queue = queue
        self.fatal = fatal  # told when the loop dies of anything but a Redis error
        self.stopped = threading.Event()

    def run(self) -> None:
        """The loop."""
        interval = self.queue.settings.queue_recovery.reaper_interval_seconds
        try:
            while not self.stopped.is_set():
                try:
                    reap_once(self.queue)
                except RedisError as exc:
                    log.warning("reaper pass failed", error=str(exc))
                self.stopped.wait(interval)
        except Exception as exc:
            log.exception("reaper thread died", error=repr(exc))
            if self.fatal is not None:
                self.fatal(f"thread {self.name} died: {exc!r}")

    def stop(self) -> None:
        """Ask the loop to end after the current pass."""
        self.stopped.set()
