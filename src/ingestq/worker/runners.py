"""Where handlers run: daemon threads (plus one event loop for async handlers) or child processes.

Thread mode is fast and shares the worker's memory; a sync handler cannot be stopped from outside,
so an attempt that times out or loses its lease is abandoned (its result ignored, its job already
handed on) and it is told to stop through ``JobContext.should_stop``. Process mode runs each slot
in a child process started with ``spawn``: a child that segfaults, is OOM-killed or calls
``os._exit`` is seen at once, and a stuck child can be killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import queue as stdqueue
import signal
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from ingestq.core.queue import encode_result
from ingestq.errors import PermanentError
from ingestq.worker.attempt import Attempt, Ending, Outcome
from ingestq.worker.handlers import HandlerSpec, JobContext, Registry, load_modules
from ingestq.worker.hooks import around_attempt

Done = Callable[[Attempt], None]


def describe_error(exc: BaseException) -> Ending:
    """The ending for a handler that raised."""
    outcome = Outcome.PERMANENT if isinstance(exc, PermanentError) else Outcome.ERROR
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-2000:]
    return Ending(outcome, {"type": type(exc).__name__, "message": str(exc)[:2000],
                            "traceback": tb, "reason": outcome.value})


class ThreadRunner:
    """Runs handlers on daemon threads; async handlers on one shared event loop thread."""

    def __init__(self, registry: Registry, slots: int, done: Done) -> None:
        self.registry = registry
        self.done = done
        self.inbox: stdqueue.Queue[Attempt | None] = stdqueue.Queue()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="ingestq-async",
                         daemon=True).start()
        for i in range(slots):
            threading.Thread(target=self._serve, name=f"ingestq-slot-{i}", daemon=True).start()

    def submit(self, attempt: Attempt) -> None:
        """Queue an attempt for the next free thread."""
        self.inbox.put(attempt)

    def _serve(self) -> None:
        while (attempt := self.inbox.get()) is not None:
            if attempt.ending is None:
                self._run(attempt)
            self.done(attempt)

    def _run(self, attempt: Attempt) -> None:
        spec = self.registry.get(attempt.job.kind)
        assert spec is not None  # the worker only claims registered kinds
        attempt.started_monotonic = time.monotonic()
        try:
            with around_attempt(attempt.context):
                result = self._call(spec, attempt)
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


def _child_main(conn: Connection, modules: list[str]) -> None:
    """A process-mode slot: run one job at a time for the parent until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides about shutdown
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from ingestq.worker.handlers import default_registry

    load_modules(modules)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        job_id, kind, payload, attempt = msg
        spec = default_registry.get(kind)
        ctx = JobContext(job_id, kind, payload, attempt)
        try:
            if spec is None:
                raise PermanentError(f"no handler for kind {kind!r} in the child process")
            with around_attempt(ctx):
                result = spec.func(ctx)
                if asyncio.iscoroutine(result):
                    result = asyncio.run(result)
            conn.send(("ok", encode_result(result) or None))
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

    def run(self, attempt: Attempt) -> None:
        """Send the job to the child and wait for its answer or its death."""
        if self.proc is None or not self.proc.is_alive():
            self.start()
        assert self.proc is not None and self.conn is not None
        attempt.on_stop = self.kill
        if attempt.ending is not None:
            return
        attempt.started_monotonic = time.monotonic()
        job = attempt.job
        try:
            self.conn.send((job.id, job.kind, job.payload, job.attempt))
            ready = wait([self.conn, self.proc.sentinel])
            if self.conn in ready:
                status, detail = self.conn.recv()
                if status == "ok":
                    result = json.loads(detail) if detail else None
                    attempt.finish(Ending(Outcome.OK, result=result))
                else:
                    attempt.finish(Ending(Outcome(status), detail))
                return
        except (EOFError, OSError, BrokenPipeError):
            pass
        self.proc.join(5)
        code = self.proc.exitcode
        how = (f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
               else f"exited with code {code}")
        attempt.finish(Ending(Outcome.CRASH, {
            "type": "ChildCrashed", "message": f"handler process {self.proc.pid} {how}",
            "traceback": "", "reason": "crash", "exit_code": code}))
        self.proc = None


class ProcessRunner:
    """A fixed number of child-process slots, each fed by one thread of the worker."""

    def __init__(self, modules: list[str], slots: int, done: Done) -> None:
        self.modules = modules
        self.done = done
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


def describe(spec: HandlerSpec | None) -> dict[str, Any]:
    """Short description of a handler, for logs."""
    if spec is None:
        return {}
    return {"kind": spec.kind, "async": spec.is_async, "isolation": spec.isolation}
