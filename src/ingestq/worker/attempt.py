"""One attempt at one job inside a worker, and how it ended.

An attempt ends exactly once: the handler finishing (ok or error) races with the timeout
watchdog, a lost lease and shutdown. ``finish`` decides the winner under a lock; whoever loses
is ignored, so a job is never both acked and released, and a lost lease is never acked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ingestq.core.job import Claimed, ErrorEntry, Progress
from ingestq.core.queue import EncodedResult
from ingestq.worker.handlers import JobContext


class Outcome(StrEnum):
    """How an attempt ended."""

    OK = "ok"  # handler returned: ack
    ERROR = "error"  # handler raised a retryable error: fail (retry)
    PERMANENT = "permanent"  # handler raised PermanentError: fail (dead)
    CRASH = "crash"  # the child process died: fail (crash)
    TIMEOUT = "timeout"  # ran past job_timeout_seconds: fail (retry, reason timeout)
    LOST = "lost"  # heartbeat says the lease is gone: do nothing, never ack
    RELEASED = "released"  # shutdown: hand back, no attempt charged
    CANCELLED = "cancelled"  # an operator cancelled it: cancel.lua already ended the job


@dataclass
class Ending:
    """The winning outcome of an attempt, with its error details."""

    outcome: Outcome
    error: ErrorEntry | None = None
    result: EncodedResult | None = None  # the handler's return value, encoded for the ack


@dataclass
class Attempt:
    """A claimed job running (or waiting to run) in this worker."""

    job: Claimed
    context: JobContext
    claimed_monotonic: float = field(default_factory=time.monotonic)
    started_monotonic: float | None = None
    ending: Ending | None = None
    ended_monotonic: float | None = None
    on_stop: Callable[[], None] | None = None  # kills a child / cancels a task when set
    on_cancel: Callable[[], None] | None = None  # a child gets a grace first; else on_stop
    reported: bool = False
    progress: Progress | None = None  # the handler's latest report
    progress_sent: Progress | None = None  # the last one written to Redis
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def lease(self) -> tuple[str, str]:
        """(job id, fencing token)."""
        return (self.job.id, self.job.token)

    def running_for(self) -> float:
        """Seconds since the handler started (0 while still queued in this worker)."""
        return 0.0 if self.started_monotonic is None else time.monotonic() - self.started_monotonic

    def finish(self, ending: Ending) -> bool:
        """Record the outcome if none is recorded yet; True when this call decided it.

        An outcome decided from outside (timeout, lost lease, release) also stops the handler.
        """
        with self._lock:
            if self.ending is not None:
                return False
            self.ending = ending
            self.ended_monotonic = time.monotonic()
        if self.ended_from_outside():
            self.context.stop_event.set()
            stop = self.on_stop
            if ending.outcome is Outcome.CANCELLED and self.on_cancel is not None:
                stop = self.on_cancel
            if stop is not None:
                stop()
        return True

    def set_progress(self, progress: Progress) -> None:
        """The handler's progress sink: keep the latest; the lease keeper writes it out."""
        self.progress = progress

    def ended_from_outside(self) -> bool:
        """True when a timeout, lost lease, release or cancel ended it, not its handler."""
        return self.ending is not None and self.ending.outcome in (
            Outcome.TIMEOUT, Outcome.LOST, Outcome.RELEASED, Outcome.CANCELLED)

    def take_report(self) -> bool:
        """True exactly once: the caller reports this attempt; later callers must not."""
        with self._lock:
            if self.reported or self.ending is None:
                return False
            self.reported = True
            return True
