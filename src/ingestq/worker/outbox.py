"""Reports finished attempts to Redis: acks in batches, failures and releases one script each.

Every attempt is reported once, whichever of handler, watchdog, lease check or shutdown ended it
first. A refused ack (lease lost) is logged and never retried: the job belongs to someone else.
"""

from __future__ import annotations

import queue as stdqueue
import threading
import time
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from ingestq.errors import IngestqError
from ingestq.logs import get_logger
from ingestq.worker.attempt import Attempt, Ending, Outcome

if TYPE_CHECKING:
    from ingestq.worker.loop import Worker

log = get_logger("ingestq.worker")
BATCH = 200
FAIL_MODE = {Outcome.ERROR: "retry", Outcome.TIMEOUT: "retry", Outcome.PERMANENT: "permanent",
             Outcome.CRASH: "crash"}


class Reporter(threading.Thread):
    """Owns the outbox of finished attempts."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(name="ingestq-reporter", daemon=True)
        self.worker = worker
        self.outbox: stdqueue.Queue[Attempt | None] = stdqueue.Queue()
        # moving average of attempt run times: decides whether prefetching pays (see capacity);
        # None until the first attempt ends, so a fresh worker never hoards jobs of unknown length
        self.recent_seconds: float | None = None

    def put(self, attempt: Attempt) -> None:
        """Called when an attempt ended (by its runner thread, or by whoever stopped it)."""
        if attempt.take_report():
            self.outbox.put(attempt)

    def end(self, attempt: Attempt, outcome: Outcome, error: dict[str, Any] | None = None
            ) -> None:
        """End an attempt from outside (timeout, lost lease, release) and report it now."""
        if attempt.finish(Ending(outcome, error)):
            self.put(attempt)

    def stop(self) -> None:
        """Drain what is queued, then end the thread."""
        self.outbox.put(None)
        self.join(10)

    def run(self) -> None:
        """Drain the outbox in batches until stopped."""
        while True:
            first = self.outbox.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < BATCH:
                try:
                    nxt = self.outbox.get_nowait()
                except stdqueue.Empty:
                    break
                if nxt is None:
                    self._report(batch)
                    return
                batch.append(nxt)
            self._report(batch)

    def _report(self, batch: list[Attempt]) -> None:
        errors = 0
        while True:
            try:
                self._send(batch)
                break
            except RedisError as exc:
                errors += 1
                log.warning("cannot report attempts yet", error=str(exc), jobs=len(batch))
                time.sleep(min(0.2 * errors, 2.0))
                self.worker.revive_server()
        for attempt in batch:
            ran = attempt.running_for()
            prev = self.recent_seconds
            self.recent_seconds = ran if prev is None else prev + 0.1 * (ran - prev)
        w = self.worker
        with w.changed:
            for attempt in batch:
                w.inflight.pop(attempt.job.id, None)
            w.changed.notify_all()

    def _send(self, batch: list[Attempt]) -> None:
        q = self.worker.queue
        by: dict[Outcome, list[Attempt]] = {}
        for attempt in batch:
            assert attempt.ending is not None
            by.setdefault(attempt.ending.outcome, []).append(attempt)
        level = "info" if self.worker.stopping.is_set() else "debug"
        acked = by.get(Outcome.OK, [])
        released = by.get(Outcome.RELEASED, [])
        codes = {Outcome.OK: q.ack_many([a.lease for a in acked],
                                        [a.ending.result if a.ending else None for a in acked]),
                 Outcome.RELEASED: q.release_many([a.lease for a in released])}
        for outcome, group in ((Outcome.OK, acked), (Outcome.RELEASED, released)):
            for attempt, code in zip(group, codes[outcome], strict=True):
                action = "ack" if outcome is Outcome.OK else "release"
                if code == 1:
                    getattr(log, level if action == "ack" else "info")(
                        action, **_fields(attempt), action=action)
                else:
                    log.warning(f"{action} refused: lease lost", **_fields(attempt),
                                action=action, code=code)
        for outcome, mode in FAIL_MODE.items():
            for attempt in by.get(outcome, []):
                self._fail(attempt, mode)
        for attempt in by.get(Outcome.LOST, []):
            log.warning("lease lost: attempt abandoned, not acked", **_fields(attempt),
                        action="abandon")

    def _fail(self, attempt: Attempt, mode: str) -> None:
        assert attempt.ending is not None
        entry = attempt.ending.error or {"type": "Error", "message": "", "traceback": ""}
        try:
            out = self.worker.queue.fail(attempt.job.id, attempt.job.token, entry, mode=mode)
        except IngestqError as exc:
            log.warning("fail refused", **_fields(attempt), error=str(exc))
            return
        event = {"crash": "crash", "permanent": "fail"}.get(mode, "fail")
        if attempt.ending.outcome is Outcome.TIMEOUT:
            event = "timeout"
        log.info(event, **_fields(attempt), action=out.state.value,
                 reason=out.dead_reason or entry.get("reason"),
                 retry_in=out.delay_seconds or None, error=entry.get("message"))


def _fields(attempt: Attempt) -> dict[str, Any]:
    job = attempt.job
    return {"job_id": job.id, "kind": job.kind, "attempt": job.attempt,
            "age": round(time.time() - job.enqueued_at, 3),
            "ran": round(attempt.running_for(), 3)}
