"""Where handlers run: daemon threads (plus one event loop for async handlers) or child processes.

Thread mode is fast and shares the worker's memory; a sync handler cannot be stopped from outside,
so an attempt that times out or loses its lease is abandoned (its result ignored, its job already
handed on) and it is told to stop through ``JobContext.should_stop``. Process mode runs each slot
in a child process started with ``spawn``: a child that segfaults, is OOM-killed or calls
``os._exit`` is seen at once, and a stuck child can be killed. A cancelled job's child gets
SIGUSR1 (which sets its stop event) and ``cancel_grace_seconds`` to return before it is killed,
so a handler that honours the stop keeps its process. Progress reports travel up the pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import queue as stdqueue
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from ingestq.core.job import error_entry, exception_entry
from ingestq.core.queue import EncodedResult, encode_result
from ingestq.errors import PermanentError
from ingestq.worker.attempt import Attempt, Ending, Outcome
from ingestq.worker.handlers import HandlerSpec, JobContext, Registry, load_modules
from ingestq.worker.hooks import around_attempt

Done = Callable[[Attempt], None]


def describe_error(exc: BaseException) -> Ending:
    """The ending for a handler that raised."""
    outcome = Outcome.PERMANENT if isinstance(exc, PermanentError) else Outcome.ERROR
    return Ending(outcome, exception_entry(exc, outcome.value))


class ThreadRunner:
    """Runs handlers on daemon threads; async handlers on one shared event loop thread.

    A sync handler that ignores its stop request keeps its thread after its attempt was ended
    (timed out, lease lost): that slot is *abandoned* until the handler returns, and *stuck*
    once it has not returned for a while. The worker claims only for slots not abandoned.
    """

    def __init__(self, registry: Registry, slots: int, done: Done) -> None:
        self.registry = registry
        self.done = done
        self.inbox: stdqueue.Queue[Attempt | None] = stdqueue.Queue()
        self.loop = asyncio.new_event_loop()
        self._running: dict[int, Attempt] = {}  # slot index -> attempt its thread runs
        self._lock = threading.Lock()
        threading.Thread(target=self.loop.run_forever, name="ingestq-async",
                         daemon=True).start()
        for i in range(slots):
            threading.Thread(target=self._serve, args=(i,), name=f"ingestq-slot-{i}",
                             daemon=True).start()

    def submit(self, attempt: Attempt) -> None:
        """Queue an attempt for the next free thread."""
        self.inbox.put(attempt)

    def abandoned(self) -> list[Attempt]:
        """Attempts ended from outside whose handler still holds its thread."""
        with self._lock:
            return [a for a in self._running.values() if a.ended_from_outside()]

    def stuck(self, after: float) -> int:
        """Slots whose abandoned handler has not returned ``after`` seconds after its stop."""
        now = time.monotonic()
        return sum(1 for a in self.abandoned()
                   if a.ended_monotonic is not None and now - a.ended_monotonic > after)

    def _serve(self, index: int) -> None:
        while (attempt := self.inbox.get()) is not None:
            if attempt.ending is None:
                with self._lock:
                    self._running[index] = attempt
                try:
                    self._run(attempt)
                finally:
                    with self._lock:
                        del self._running[index]
            self.done(attempt)

    def _run(self, attempt: Attempt) -> None:
        spec = self.registry.get(attempt.job.kind)
        assert spec is not None  # the worker only claims registered kinds
        attempt.started_monotonic = time.monotonic()
        try:
            with around_attempt(attempt.context):
                result = encode_result(self._call(spec, attempt))
            attempt.finish(Ending(Outcome.OK, result=result))
        except BaseException as exc:  # every handler failure is recorded, exits included
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                exc = RuntimeError(f"handler exited: {exc!r}")
            attempt.finish(describe_error(exc))

    def _call(self, spec: HandlerSpec, attempt: Attempt) -> Any:
        if not spec.is_async:
            return spec.func(attempt.context)
        fut = asyncio.run_coroutine_threadsafe(spec.func(attempt.context), self.loop)

        def cancel() -> None:
            self.loop.call_soon_threadsafe(fut.cancel)

        attempt.on_stop = cancel
        if attempt.ending is not None:  # stopped before the hook was set
            cancel()
        return fut.result()

    def close(self) -> None:
        """Stop the threads once they are idle (daemon threads never block exit)."""
        self.loop.call_soon_threadsafe(self.loop.stop)


_child_job: list[JobContext] = []  # the job a child runs now, for its SIGUSR1 handler


def _stop_current(signum: int, frame: object) -> None:
    """SIGUSR1 in a child: the parent cancelled the job it runs; set its stop event."""
    for ctx in _child_job:
        ctx.stop_event.set()


def _child_main(conn: Connection, modules: list[str]) -> None:
    """A process-mode slot: run one job at a time for the parent until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides about shutdown
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGUSR1, _stop_current)
    from ingestq.worker.handlers import default_registry

    load_modules(modules)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        job_id, kind, payload, attempt = msg
        spec = default_registry.get(kind)
        ctx = JobContext(job_id, kind, payload, attempt,
                         progress_sink=lambda p: conn.send(("progress", p)))
        _child_job[:] = [ctx]
        conn.send(("started", None))  # from now on SIGUSR1 stops this job, not the child
        try:
            if spec is None:
                raise PermanentError(f"no handler for kind {kind!r} in the child process")
            with around_attempt(ctx):
                result = spec.func(ctx)
                if asyncio.iscoroutine(result):
                    result = asyncio.run(result)
                encoded = encode_result(result)  # a ResultError ends the attempt as permanent
            conn.send(("ok", str(encoded)))
        except BaseException as exc:
            ending = describe_error(exc)
            conn.send((ending.outcome.value, ending.error))


class ProcessSlot:
    """One child process and the thread in the worker that feeds and watches it."""

    def __init__(self, runner: ProcessRunner, index: int) -> None:
        self.runner = runner
        self.index = index
        self.proc: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self.current: Attempt | None = None  # the attempt the child runs now
        self.in_handler = False  # the child said it started the current attempt

    def start(self) -> None:
        """(Re)start the child process."""
        parent, child = multiprocessing.Pipe()
        ctx = multiprocessing.get_context("spawn")
        self.proc = ctx.Process(target=_child_main, args=(child, self.runner.modules),
                                name=f"ingestq-child-{self.index}", daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def kill(self) -> None:
        """SIGKILL the child (a stuck handler, a timeout, a lost lease or shutdown)."""
        if self.proc is not None and self.proc.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)

    def cancel(self, attempt: Attempt) -> None:
        """Ask the child to stop (SIGUSR1 sets its stop event); kill it after the grace.

        A child still starting up has no SIGUSR1 handler yet: it is signalled when it says it
        started the job (see ``_exchange``).
        """
        if self.current is not attempt:
            return
        if self.in_handler:
            self._interrupt()

        def overdue() -> None:
            if self.current is attempt:
                self.kill()

        timer = threading.Timer(self.runner.cancel_grace, overdue)
        timer.daemon = True
        timer.start()

    def _interrupt(self) -> None:
        proc = self.proc
        if proc is not None and proc.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGUSR1)

    def run(self, attempt: Attempt) -> None:
        """Send the job to the child and wait for its answer or its death."""
        if self.proc is None or not self.proc.is_alive():
            self.start()
        assert self.proc is not None and self.conn is not None
        attempt.on_stop = self.kill
        attempt.on_cancel = lambda: self.cancel(attempt)
        if attempt.ending is not None:
            return
        attempt.started_monotonic = time.monotonic()
        self.current = attempt
        try:
            self._exchange(attempt)
        finally:
            self.current, self.in_handler = None, False

    def _exchange(self, attempt: Attempt) -> None:
        assert self.proc is not None and self.conn is not None
        job = attempt.job
        try:
            self.conn.send((job.id, job.kind, job.payload, job.attempt))
            while self.conn in wait([self.conn, self.proc.sentinel]):
                status, detail = self.conn.recv()
                if status == "started":
                    self.in_handler = True
                    ending = attempt.ending
                    if ending is not None and ending.outcome is Outcome.CANCELLED:
                        self._interrupt()  # cancelled while the child was starting
                    continue
                if status == "progress":
                    attempt.set_progress(detail)
                    continue
                if status == "ok":
                    attempt.finish(Ending(Outcome.OK, result=EncodedResult(detail)))
                else:
                    attempt.finish(Ending(Outcome(status), detail))
                return
        except (EOFError, OSError, BrokenPipeError):
            pass
        self.proc.join(5)
        code = self.proc.exitcode
        how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
               else f"exited with code {code}")
        attempt.finish(Ending(Outcome.CRASH, error_entry(
            "ChildCrashed", f"handler process {self.proc.pid} {how}", "crash", exit_code=code)))
        self.proc = None


class ProcessRunner:
    """A fixed number of child-process slots, each fed by one thread of the worker."""

    def __init__(self, modules: list[str], slots: int, done: Done, *,
                 cancel_grace: float = 5.0) -> None:
        self.modules = modules
        self.done = done
        self.cancel_grace = cancel_grace
        self.inbox: stdqueue.Queue[Attempt | None] = stdqueue.Queue()
        self.slots = [ProcessSlot(self, i) for i in range(slots)]
        for slot in self.slots:
            slot.start()
            threading.Thread(target=self._serve, args=(slot,), name=f"ingestq-pslot-{slot.index}",
                             daemon=True).start()

    def submit(self, attempt: Attempt) -> None:
        """Queue an attempt for the next free child."""
        self.inbox.put(attempt)

    def _serve(self, slot: ProcessSlot) -> None:
        while (attempt := self.inbox.get()) is not None:
            if attempt.ending is None:
                slot.run(attempt)
            self.done(attempt)

    def close(self) -> None:
        """Kill every child (jobs still running were already released)."""
        for slot in self.slots:
            slot.kill()

