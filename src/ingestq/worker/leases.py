"""Lease renewal and the job timeout, on a thread no handler can block.

Every ``heartbeat_seconds`` one script call renews all leases this worker holds and refreshes
the worker's registry record; leases reported lost end their attempts (never acked). Every tick
the attempts running past ``job_timeout_seconds`` are stopped and recorded as retryable
failures with reason ``timeout``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from ingestq.logs import get_logger
from ingestq.worker.attempt import Outcome

if TYPE_CHECKING:
    from ingestq.worker.loop import Worker

log = get_logger("ingestq.worker")


class LeaseKeeper(threading.Thread):
    """Renews leases and enforces the job timeout for one worker."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(name="ingestq-leases", daemon=True)
        self.worker = worker
        self.stopped = threading.Event()

    def stop(self) -> None:
        """End the loop (leases of a stopped worker simply run out, or were released)."""
        self.stopped.set()
        self.join(5)

    def run(self) -> None:
        """Beat every heartbeat interval; check timeouts every tick."""
        rc = self.worker.queue.settings.queue_recovery
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
        w = self.worker
        attempts = [a for a in list(w.inflight.values()) if a.ending is None]
        try:
            lost = w.queue.heartbeat(w.id, [a.lease for a in attempts])
        except RedisError as exc:
            log.warning("heartbeat failed", error=str(exc), leases=len(attempts))
            w.revive_server()
            return False
        for attempt in attempts:
            if attempt.job.id in lost:
                w.reporter.end(attempt, Outcome.LOST)
        return True

    def _enforce_timeout(self, limit: float) -> None:
        w = self.worker
        for attempt in list(w.inflight.values()):
            if attempt.ending is None and attempt.running_for() > limit:
                w.reporter.end(attempt, Outcome.TIMEOUT, {
                    "type": "JobTimeout", "reason": "timeout", "traceback": "",
                    "message": f"attempt ran past job_timeout_seconds ({limit:g} s) and was "
                               "stopped"})
