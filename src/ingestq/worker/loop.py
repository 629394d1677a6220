"""The worker: claims jobs in batches, runs them, reports each attempt's end exactly once.

Threads, each with one job and its own Redis connection from the shared pool:
- main: claims while slots are free; blocks on the wake list when there is nothing to do;
- reporter: acks, fails and releases finished attempts in batches (see ``Reporter``);
- lease keeper: renews every lease this worker holds and enforces the job timeout. Being a thread
  of its own, a handler that blocks the event loop or burns the CPU cannot starve it;
- reaper (optional): recovers other workers' expired leases.
Handlers run in a runner (threads or child processes, see ``runners``).
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from redis.exceptions import RedisError

from ingestq.core import queries as reads
from ingestq.core import worker_registry as registry
from ingestq.core.embedded import EmbeddedServer
from ingestq.core.queue import Queue
from ingestq.logs import get_logger
from ingestq.worker.attempt import Attempt, Outcome
from ingestq.worker.handlers import JobContext, Registry, default_registry
from ingestq.worker.leases import LeaseKeeper
from ingestq.worker.outbox import Reporter
from ingestq.worker.reaper import ReaperThread
from ingestq.worker.runners import ProcessRunner, ThreadRunner

log = get_logger("ingestq.worker")


class Worker:
    """One worker process's job loop. ``run()`` returns the exit code (0 after any stop)."""

    def __init__(self, queue: Queue, handlers: Registry = default_registry, *,
                 concurrency: int | None = None, kinds: list[str] | None = None,
                 isolation: str | None = None, burst: bool = False,
                 modules: list[str] | None = None, run_reaper: bool | None = None) -> None:
        ws = queue.settings.worker
        self.queue = queue
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
        self.id = registry.new_worker_id()
        self.inflight: dict[str, Attempt] = {}
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.hard_stop = threading.Event()
        self.reporter = Reporter(self)
        self.keeper = LeaseKeeper(self)
        self._runners: dict[str, Any] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def run(self) -> int:
        """Work until stopped (or, in burst mode, until nothing is left); always exits 0."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._on_signal)
        self._start_runners()
        registry.publish(self.queue, self.id, concurrency=self.concurrency, kinds=self.kinds,
                         isolation=self.isolation)
        reaper = ReaperThread(self.queue) if (
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
        return 0

    def request_stop(self) -> None:
        """First call: graceful stop. Second call: release everything and exit now."""
        if self.stopping.is_set():
            self.hard_stop.set()
        self.stopping.set()
        with self.changed:
            self.changed.notify_all()

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
            self._runners["process"] = ProcessRunner(self.modules, self.concurrency,
                                                     self.reporter.put)

    # -- main loop -----------------------------------------------------------------------

    def _loop(self) -> None:
        ws = self.queue.settings.worker
        errors = 0
        while not self.stopping.is_set():
            with self.changed:
                while len(self.inflight) >= self.capacity() and not self.stopping.is_set():
                    self.changed.wait(0.5)
            if self.stopping.is_set():
                return
            free = self.capacity() - len(self.inflight)
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
        """Jobs this worker may hold: its slots, plus a prefetch while recent jobs are short.

        Short jobs make the claim round trip the bottleneck, so a buffer of claimed jobs keeps
        every slot busy; long jobs gain nothing from it and a buffer would only keep them from
        idle workers, so the prefetch is dropped when attempts take longer.
        """
        ws = self.queue.settings.worker
        recent = self.reporter.recent_seconds
        short = recent is not None and recent < ws.prefetch_below_seconds
        return self.concurrency + (ws.prefetch if short else 0)

    def _dispatch(self, job: Any) -> None:
        attempt = Attempt(job, JobContext(job.id, job.kind, job.payload, job.attempt))
        spec = self.handlers.get(job.kind)
        mode = (spec.isolation if spec and spec.isolation else self.isolation)
        with self.changed:
            self.inflight[job.id] = attempt
        log.debug("claim", job_id=job.id, kind=job.kind, attempt=job.attempt,
                  age=round(time.time() - job.enqueued_at, 3), action="claim")
        self._runners[mode if mode in self._runners else "thread"].submit(attempt)

    def _block(self, next_due_ms: int | None) -> None:
        """Sleep on the wake list until work arrives, the next retry is due, or 1 s passes."""
        timeout = 1.0
        if next_due_ms is not None:
            now = reads.server_time_ms(self.queue)
            timeout = min(timeout, max(0.01, (next_due_ms - now) / 1000.0))
        if len(self.inflight) >= self.capacity():
            return
        self.queue.client.blpop([self.queue.keys.wake], timeout=timeout)

    def _drained(self) -> bool:
        """Nothing of this worker's kinds pending, nothing scheduled or in flight anywhere.

        Jobs in flight elsewhere count: if their worker died they come back after the lease.
        """
        if self.inflight:
            return False
        k = self.queue.keys
        pipe = self.queue.client.pipeline(transaction=False)
        for kind in self.kinds:
            pipe.llen(k.pending(kind))
        pipe.zcard(k.processing)
        pipe.zcard(k.scheduled)
        return not any(int(n) for n in pipe.execute())

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
        if self.queue.settings.redis.url:
            return
        try:
            EmbeddedServer(self.queue.settings.data_dir).ensure_running(timeout=5)
        except Exception as start_exc:
            log.warning("embedded server restart failed", error=str(start_exc))

    # -- shutdown ------------------------------------------------------------------------

    def _shutdown(self, reaper: ReaperThread | None) -> None:
        grace = self.queue.settings.worker.shutdown_grace_seconds
        deadline = time.monotonic() + grace
        # jobs claimed but not started yet go back at once
        for attempt in list(self.inflight.values()):
            if attempt.started_monotonic is None:
                self.reporter.end(attempt, Outcome.RELEASED)
        with self.changed:
            while (self.inflight and time.monotonic() < deadline
                   and not self.hard_stop.is_set()):
                self.changed.wait(0.1)
        for attempt in list(self.inflight.values()):
            self.reporter.end(attempt, Outcome.RELEASED)
        with self.changed:
            end = time.monotonic() + 10
            while self.inflight and time.monotonic() < end:
                self.changed.wait(0.1)
        if reaper is not None:
            reaper.stop()
        self.keeper.stop()
        self.reporter.stop()
        for runner in self._runners.values():
            runner.close()
        try:
            registry.withdraw(self.queue, self.id)
        except RedisError as exc:
            log.warning("could not withdraw worker record", error=str(exc))
        log.info("worker stopped", worker=self.id, left_in_flight=len(self.inflight))
