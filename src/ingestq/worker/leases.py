"""Lease renewal and the job timeout, on a thread no handler can block.

Every ``heartbeat_seconds`` one script call renews all leases this worker holds and refreshes
the worker's registry record; leases reported lost end their attempts (never acked). Every tick
the attempts running past ``job_timeout_seconds`` are stopped and recorded as retryable
failures with reason ``timeout``.
"""

from __future__ import annotations

import threading
import time

from redis.exceptions import RedisError

from ingestq.logs import get_logger
from ingestq.worker.attempt import Attempt, Outcome
from ingestq.worker.inflight import Guarded, InFlight
from ingestq.worker.outbox import Reporter

log = get_logger("ingestq.worker")


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
        next_beat = 0.0
        while not self.stopped.is_set():
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + (rc.heartbeat_seconds if self._beat()
                                   else min(1.0, rc.heartbeat_seconds))
            self._enforce_timeout(rc.job_timeout_seconds)
            self.stopped.wait(tick)

    def _beat(self) -> bool:
        s = self.shared
        attempts = newest_per_job([a for a in s.attempts() if a.ending is None], self.reporter)
        try:
            lost = s.queue.heartbeat(s.worker_id, [a.lease for a in attempts])
        except RedisError as exc:
            log.warning("heartbeat failed", error=str(exc), leases=len(attempts))
            s.revive()
            return False
        for attempt in attempts:
            if attempt.job.id in lost:
                self.reporter.end(attempt, Outcome.LOST)
        return True

    def _enforce_timeout(self, limit: float) -> None:
        for attempt in self.shared.attempts():
            if attempt.ending is None and attempt.running_for() > limit:
                self.reporter.end(attempt, Outcome.TIMEOUT, {
                    "type": "JobTimeout", "reason": "timeout", "traceback": "",
                    "message": f"attempt ran past job_timeout_seconds ({limit:g} s) and was "
                               "stopped"})


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
