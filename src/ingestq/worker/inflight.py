"""The seam inside a worker: what its loop, outbox and lease keeper share, and nothing more.

``InFlight`` holds the attempts this worker holds, keyed by lease (job id, fencing token), the
condition that signals a change, the worker's stop event and two callbacks: ``revive`` (restart
the embedded server after a failed Redis call) and ``fatal`` (a background thread died). The
outbox and the lease keeper take this object, never the ``Worker``, so neither imports it back.

Why the token is part of the key: a worker paused past its lease can claim the same job again
(the reaper requeued it) while its old attempt is still being settled. Keyed by job id alone,
the old attempt's refused ack removed the new attempt from the map; its lease was no longer
renewed, it expired, and the cycle repeated until the job went dead as ``poison``.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from ingestq.core.queue import Queue
from ingestq.logs import get_logger
from ingestq.worker.attempt import Attempt

log = get_logger("ingestq.worker")
Lease = tuple[str, str]


@dataclass
class InFlight:
    """The attempts a worker holds, and how its threads tell each other about them."""

    queue: Queue
    worker_id: str
    revive: Callable[[], None]
    fatal: Callable[[str], None]
    stopping: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    _attempts: dict[Lease, Attempt] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._attempts)

    def add(self, attempt: Attempt) -> None:
        """A claimed attempt joins (before its runner may end it)."""
        with self.changed:
            self._attempts[attempt.lease] = attempt

    def settle(self, attempts: list[Attempt]) -> None:
        """These attempts were reported: they leave, and whoever waits for room is woken."""
        with self.changed:
            for attempt in attempts:
                if self._attempts.get(attempt.lease) is attempt:
                    del self._attempts[attempt.lease]
            self.changed.notify_all()

    def attempts(self) -> list[Attempt]:
        """A snapshot of the attempts held, oldest claim first."""
        with self.changed:
            return list(self._attempts.values())

    def notify(self) -> None:
        """Wake whoever waits on ``changed`` (a stop request, a slot freed)."""
        with self.changed:
            self.changed.notify_all()


class Guarded(threading.Thread):
    """A background thread of a worker whose death takes the worker down.

    A reporter or lease keeper that died of an unexpected error left a worker half alive: it
    kept claiming while nothing acked or renewed. Now any exception escaping ``work`` is logged
    with its traceback and handed to ``InFlight.fatal``, which stops the worker with a non-zero
    exit code so its supervisor starts a whole one.
    """

    def __init__(self, name: str, shared: InFlight) -> None:
        super().__init__(name=name, daemon=True)
        self.shared = shared

    def run(self) -> None:
        """Run ``work``; report its death."""
        try:
            self.work()
        except BaseException as exc:  # any death, SystemExit included, ends the worker
            log.error("background thread died", thread=self.name, error=repr(exc),
                      traceback="".join(traceback.format_exception(exc))[-3000:])
            self.shared.fatal(f"thread {self.name} died: {exc!r}")

    def work(self) -> None:
        """The thread's loop (subclasses)."""
        raise NotImplementedError
