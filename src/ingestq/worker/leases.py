"""Lease renewal, the job timeout, cancels and progress, on a thread no handler can block.

Every ``heartbeat_seconds`` one script call renews all leases this worker holds and refreshes
the worker's registry record; leases reported lost end their attempts (never acked). Every tick
the attempts running past ``job_timeout_seconds`` are stopped and recorded as retryable
failures with reason ``timeout``. Every CONTROL_SECONDS, while it holds attempts, it asks which
were cancelled (one ZMSCORE) and writes the progress handlers reported since (one script call).
"""

from __future__ import annotations

import threading
import time

from redis.exceptions import RedisError

from ingestq.core.controls import cancelled_among, report_progress
from ingestq.core.job import error_entry
from ingestq.logs import get_logger
from ingestq.worker.attempt import Attempt, Outcome
from ingestq.worker.inflight import Guarded, InFlight
from ingestq.worker.outbox import Reporter

log = get_logger("ingestq.worker")
# How often cancels are polled and progress written: an operator sees a cancel take effect, and
# progress move, within about this long; one or two round trips per period per busy worker.
CONTROL_SECONDS = 0.5


class LeaseKeeper(Guarded):
    """Renews leases and enforces the job timeout for one worker."""

    def __init__(self, shared: InFlight, reporter: Reporter) -> None:
        super().__init__("ingestq-leases", shared)
        self.reporter = reporter
        self.stopped = threading.Event()

    def stop(self) -> None:
        """End the loop (leases of a stopped worker simply run out, or were released)."""
        self.stopped.set()
        self.join(5)

    def work(self) -> None:
        """Beat every heartbeat interval; check timeouts every tick."""
        rc = self.shared.queue.settings.queue_recovery
        tick = min(0.25, rc.heartbeat_seconds / 4)
        next_beat = next_control = 0.0
        while not self.stopped.is_set():
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + (rc.heartbeat_seconds if self._beat()
                                   else min(1.0, rc.heartbeat_seconds))
            if now >= next_control:
                next_control = now + CONTROL_SECONDS
                self._controls()
            self._enforce_timeout(rc.job_timeout_seconds)
            self.stopped.wait(tick)

    def _beat(self) -> bool:
        s = self.shared
        # Finished attempts keep their lease until their report (ack, fail) lands: across a
        # failover that can take seconds, and an expired lease would run a finished job again.
        attempts = newest_per_job([a for a in s.attempts()
                                   if a.ending is None or a.ending.outcome is not Outcome.LOST],
                                  self.reporter)
        try:
            lost = s.queue.heartbeat(s.worker_id, [a.lease for a in attempts])
        except RedisError as exc:
            log.warning("heartbeat failed", error=str(exc), leases=len(attempts))
            s.revive()
            return False
        gone = [a for a in attempts if a.job.id in lost]
        try:  # a cancel also revokes the lease: tell the two apart, a cancel gets its grace
            cancelled = cancelled_among(s.queue, [a.lease for a in gone])
        except RedisError:
            cancelled = set()
        for attempt in gone:
            outcome = Outcome.CANCELLED if attempt.job.id in cancelled else Outcome.LOST
            self.reporter.end(attempt, outcome)
        return True

    def _controls(self) -> None:
        """Stop the attempts an operator cancelled; write the progress reported since."""
        attempts = [a for a in self.shared.attempts() if a.ending is None]
        if not attempts:
            return
        q = self.shared.queue
        try:
            for job_id in cancelled_among(q, [a.lease for a in attempts]):
                self._cancel(attempts, job_id)
            # each attempt's latest report read once, so one arriving meanwhile is not lost
            fresh = [(a, p) for a in attempts
                     if (p := a.progress) is not None and p is not a.progress_sent]
            report_progress(q, [(a.job.id, a.job.token, p) for a, p in fresh])
            for a, p in fresh:
                a.progress_sent = p
        except RedisError as exc:  # the heartbeat's own failure path revives the server
            log.warning("cancel check or progress write failed", error=str(exc))

    def _cancel(self, attempts: list[Attempt], job_id: str) -> None:
        for attempt in attempts:
            if attempt.job.id == job_id:
                self.reporter.end(attempt, Outcome.CANCELLED)

    def _enforce_timeout(self, limit: float) -> None:
        for attempt in self.shared.attempts():
            if attempt.ending is None and attempt.running_for() > limit:
                self.reporter.end(attempt, Outcome.TIMEOUT, error_entry(
                    "JobTimeout", f"attempt ran past job_timeout_seconds ({limit:g} s) and was "
                                  "stopped", "timeout"))


def newest_per_job(attempts: list[Attempt], reporter: Reporter) -> list[Attempt]:
    """One attempt per job id, the newest claim; older ones are ended as lost.

    Two attempts at one job happen when this worker was paused past its lease and claimed the
    job again. Each claim issues a new token, so the older token is stale for certain; it is
    ended here because heartbeat.lua answers lost leases by job id alone.
    """
    newest: dict[str, Attempt] = {}
    for attempt in attempts:
        held = newest.get(attempt.job.id)
        if held is None or attempt.claimed_monotonic >= held.claimed_monotonic:
            if held is not None:
                reporter.end(held, Outcome.LOST)
            newest[attempt.job.id] = attempt
        else:
            reporter.end(attempt, Outcome.LOST)
    return list(newest.values())
