"""The worker: claims jobs in batches, runs them, reports each attempt's end exactly once.

Threads, each with one job and its own Redis connection from the shared pool:
- main: claims while slots are free; blocks on the wake list when there is nothing to do;
- reporter: acks, fails and releases finished attempts in batches (see ``Reporter``);
- lease keeper: renews every lease this worker holds and enforces the job timeout. Being a thread
  of its own, a handler that blocks the event loop or burns the CPU cannot starve it;
- reaper (optional): recovers other workers' expired leases.
Handlers run in a runner (threads or child processes, see ``runners``). The loop, the reporter
and the lease keeper share one ``InFlight`` (see ``inflight``), never the worker itself.

``run()`` returns 0 after a stop, and EXIT_UNHEALTHY when the worker took itself down: a
background thread died, or every thread slot is stuck in a handler that ignores its stop. A
worker in either state would hold on to jobs it cannot settle or run; a fresh process can.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from redis.exceptions import RedisError

from ingestq.core import queries, worker_registry
from ingestq.core.connection import revive_embedded
from ingestq.core.queue import Queue
from ingestq.logs import get_logger
from ingestq.worker.attempt import Attempt, Outcome
from ingestq.worker.handlers import JobContext, Registry, default_registry
from ingestq.worker.inflight import InFlight
from ingestq.worker.leases import LeaseKeeper
from ingestq.worker.outbox import Reporter
from ingestq.worker.reaper import ReaperThread
from ingestq.worker.runners import ProcessRunner, ThreadRunner
from ingestq.worker.settings import WorkerSettings

log = get_logger("ingestq.worker")
EXIT_UNHEALTHY = 70  # EX_SOFTWARE: the worker stopped itself; restart it


class Worker:
    """One worker process's job loop. ``run()`` returns the exit code."""

    def __init__(self, queue: Queue, handlers: Registry = default_registry, *,
                 concurrency: int | None = None, kinds: list[str] | None = None,
                 isolation: str | None = None, burst: bool = False,
                 modules: list[str] | None = None, run_reaper: bool | None = None,
                 settings: WorkerSettings | None = None,
                 revive: Callable[[], None] | None = None) -> None:
        ws = self.settings = settings or WorkerSettings()
        self.queue = queue
        # what to do when Redis fails: by default restart the embedded server if that is the one
        self._revive = revive or partial(revive_embedded, queue.settings)
        self.handlers = handlers
        self.concurrency = concurrency or ws.concurrency
        self.kinds = kinds or handlers.kinds()
        unknown = [k for k in self.kinds if handlers.get(k) is None]
        if unknown:
            raise ValueError(f"no handler registered for kinds {unknown}; "
                             f"known: {handlers.kinds()}")
        self.isolation = isolation or ws.isolation
        self.burst = burst
        self.modules = modules or []
        self.run_reaper = ws.run_reaper if run_reaper is None else run_reaper
        self.id = worker_registry.new_worker_id()
        self.shared = InFlight(queue, self.id, revive=self.revive_server, fatal=self.fail)
        self.stopping = self.shared.stopping
        self.hard_stop = threading.Event()
        self.exit_code = 0
        self.stuck_slots = 0
        self.reporter = Reporter(self.shared)
        self.keeper = LeaseKeeper(self.shared, self.reporter)
        self._runners: dict[str, Any] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def run(self) -> int:
        """Work until stopped (or, in burst mode, until nothing is left); the exit code."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        self._start_runners()
        worker_registry.publish(self.queue, self.id, concurrency=self.concurrency, kinds=self.kinds,
                                isolation=self.isolation)
        reaper = ReaperThread(self.queue, self.fail) if (
            self.run_reaper and self.queue.settings.queue_recovery.enabled) else None
        for thread in (self.reporter, self.keeper, reaper):
            if thread is not None:
                thread.start()
        log.info("worker started", worker=self.id, concurrency=self.concurrency,
                 kinds=self.kinds, isolation=self.isolation, reaper=reaper is not None)
        try:
            self._loop()
        finally:
            self._shutdown(reaper)
            for signum, handler in previous.items():  # an embedding program gets its own back
                signal.signal(signum, handler)
        return self.exit_code

    def request_stop(self) -> None:
        """First call: graceful stop. Second call: release everything and exit now."""
        if self.stopping.is_set():
            self.hard_stop.set()
        self.stopping.set()
        self.shared.notify()

    def fail(self, reason: str) -> None:
        """Take the worker down now: hand every job back and exit with EXIT_UNHEALTHY."""
        log.error("worker unhealthy: stopping", worker=self.id, reason=reason,
                  exit_code=EXIT_UNHEALTHY)
        self.exit_code = EXIT_UNHEALTHY
        self.request_stop()
        self.request_stop()

    def _on_signal(self, signum: int, frame: object) -> None:
        log.info("signal received", signal=signal.Signals(signum).name,
                 action="release all" if self.stopping.is_set() else "graceful stop")
        self.request_stop()

    def _start_runners(self) -> None:
        self._runners["thread"] = ThreadRunner(self.handlers, self.concurrency,
                                               self.reporter.put)
        wants_process = self.isolation == "process" or any(
            (s := self.handlers.get(k)) is not None and s.isolation == "process"
            for k in self.kinds)
        if wants_process:
            self._runners["process"] = ProcessRunner(
                self.modules, self.concurrency, self.reporter.put,
                cancel_grace=self.settings.cancel_grace_seconds)

    # -- main loop -----------------------------------------------------------------------

    def _loop(self) -> None:
        ws = self.settings
        errors = 0
        while not self.stopping.is_set():
            self._tend_slots()
            with self.shared.changed:
                if len(self.shared) >= self.capacity() and not self.stopping.is_set():
                    self.shared.changed.wait(0.5)
                    continue
            if self.stopping.is_set():
                return
            free = self.capacity() - len(self.shared)
            try:
                batch = self.queue.claim(self.id, min(free, ws.claim_batch), kinds=self.kinds)
                errors = 0
                if batch.jobs:
                    for job in batch.jobs:
                        self._dispatch(job)
                    continue
                if self.burst and self._drained():
                    log.info("burst finished: nothing pending or in flight", worker=self.id)
                    return
                self._block(batch.next_due_ms)
            except RedisError as exc:
                errors += 1
                self._recover_connection(exc, errors)

    def capacity(self) -> int:
        """Jobs this worker may claim up to: usable slots, plus a prefetch while jobs are short.

        Short jobs make the claim round trip the bottleneck, so a buffer of claimed jobs keeps
        every slot busy; long jobs gain nothing from it and a buffer would only keep them from
        idle workers, so the prefetch is dropped when attempts take longer. A slot held by an
        abandoned handler is not usable: claiming for it would hoard a job nothing can start.
        """
        ws = self.settings
        usable = self._usable_slots()
        recent = self.reporter.recent_seconds
        short = recent is not None and recent < ws.prefetch_below_seconds
        return usable + (ws.prefetch if short and usable else 0)

    def _usable_slots(self) -> int:
        return max(0, self.concurrency - len(self._runners["thread"].abandoned()))

    def _tend_slots(self) -> None:
        """Give back what stuck slots cannot start; publish them; stop when all are stuck."""
        self._give_back()
        stuck = self._runners["thread"].stuck(self.queue.settings.queue_recovery.lease_seconds)
        if stuck != self.stuck_slots:
            log.warning("stuck slots", worker=self.id, stuck=stuck, slots=self.concurrency)
            try:
                worker_registry.report_stuck(self.queue, self.id, stuck)
                self.stuck_slots = stuck
            except RedisError as exc:
                log.warning("could not publish stuck slots", error=str(exc))
        if stuck >= self.concurrency:
            self.fail(f"every slot ({stuck}) is stuck in a handler that ignored its stop")

    def _give_back(self) -> None:
        """Release the newest claims not started beyond usable slots plus prefetch.

        Only abandoned slots shrink that limit, so a worker never churns its prefetch when
        jobs merely get longer; released jobs (no attempt charged) go to the front of pending,
        where another worker takes them at once instead of after this worker's stuck handlers.
        """
        usable = self._usable_slots()
        limit = usable + (self.settings.prefetch if usable else 0)
        excess = len(self.shared) - limit
        if excess > 0:
            waiting = [a for a in self.shared.attempts()
                       if a.started_monotonic is None and a.ending is None]
            for attempt in waiting[::-1][:excess]:
                self.reporter.end(attempt, Outcome.RELEASED)

    def _dispatch(self, job: Any) -> None:
        attempt = Attempt(job, JobContext(job.id, job.kind, job.payload, job.attempt))
        attempt.context.progress_sink = attempt.set_progress
        spec = self.handlers.get(job.kind)
        mode = (spec.isolation if spec and spec.isolation else self.isolation)
        self.shared.add(attempt)
        log.debug("claim", job_id=job.id, kind=job.kind, attempt=job.attempt,
                  age=round(time.time() - job.enqueued_at, 3), action="claim")
        self._runners[mode if mode in self._runners else "thread"].submit(attempt)

    def _block(self, next_due_ms: int | None) -> None:
        """Sleep on the wake list until work arrives, the next retry is due, or 1 s passes."""
        timeout = 1.0
        if next_due_ms is not None:
            now = queries.server_time_ms(self.queue)
            timeout = min(timeout, max(0.01, (next_due_ms - now) / 1000.0))
        if len(self.shared) >= self.capacity():
            return
        queries.wait_for_wake(self.queue, timeout)

    def _drained(self) -> bool:
        """Nothing of this worker's unpaused kinds pending, nothing scheduled or in flight
        anywhere.

        Jobs in flight elsewhere count: if their worker died they come back after the lease.
        Pending jobs of a paused kind do not: this worker could not take them.
        """
        return not len(self.shared) and queries.drained(self.queue, self.kinds)

    def _recover_connection(self, exc: Exception, errors: int) -> None:
        log.warning("redis unavailable", error=str(exc), retry_in=min(errors * 0.2, 2.0))
        self.stopping.wait(min(errors * 0.2, 2.0))
        self.revive_server()

    def revive_server(self) -> None:
        """Restart the embedded server if it is down (a no-op on a configured URL).

        Called by every thread whose Redis call failed: the claim loop, but also the lease
        keeper and the reporter, because a worker with every slot busy does not claim and would
        otherwise leave a killed server down until its leases ran out.
        """
        self._revive()

    # -- shutdown ------------------------------------------------------------------------

    def _shutdown(self, reaper: ReaperThread | None) -> None:
        grace = self.settings.shutdown_grace_seconds
        deadline = time.monotonic() + grace
        # jobs claimed but not started yet go back at once
        for attempt in self.shared.attempts():
            if attempt.started_monotonic is None:
                self.reporter.end(attempt, Outcome.RELEASED)
        self._wait_settled(deadline, self.hard_stop)
        for attempt in self.shared.attempts():
            self.reporter.end(attempt, Outcome.RELEASED)
        self._wait_settled(time.monotonic() + 10, None)
        if not self.reporter.is_alive():
            self._release_directly()
        if reaper is not None:
            reaper.stop()
        self.keeper.stop()
        self.reporter.stop()
        for runner in self._runners.values():
            runner.close()
        try:
            worker_registry.withdraw(self.queue, self.id)
        except RedisError as exc:
            log.warning("could not withdraw worker record", error=str(exc))
        log.info("worker stopped", worker=self.id, left_in_flight=len(self.shared),
                 exit_code=self.exit_code)

    def _wait_settled(self, deadline: float, cut_short: threading.Event | None) -> None:
        """Wait until every attempt was reported (never for a dead reporter)."""
        with self.shared.changed:
            while (len(self.shared) and time.monotonic() < deadline
                   and self.reporter.is_alive()
                   and not (cut_short is not None and cut_short.is_set())):
                self.shared.changed.wait(0.1)

    def _release_directly(self) -> None:
        """The reporter died: hand back what it never settled, so nothing waits for a lease."""
        leases = [a.lease for a in self.shared.attempts()]
        try:
            self.queue.release_many(leases)
        except RedisError as exc:
            log.warning("could not release jobs; they return when their leases run out",
                        error=str(exc), jobs=len(leases))
