"""`up`: workers, a reaper and the service as child processes under one supervisor.

Children run in their own sessions, so a Ctrl-C in the terminal reaches only the supervisor,
which then forwards exactly one SIGTERM to each child (a second signal to a worker means "hand
everything back now", which a shared process group would send by accident). A child that dies is
restarted, with a growing pause when it keeps dying at once. Each child also gets SIGTERM from the
kernel when the supervisor dies, however it dies (parent-death signal, see :mod:`.up_lock`). On
SIGTERM, SIGINT or SIGHUP the children get
SIGTERM and the grace period; whatever is still running after it is killed. A second signal
forwards a second SIGTERM, so workers hand their jobs back at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from ingestq.config import IngestSettings
from ingestq.ops.local_workers import local_layout
from ingestq.ops.up_lock import die_with_parent
from ingestq.redaction import redact

POLL_SECONDS = 0.2
QUICK_DEATH_SECONDS = 5.0  # a child dying sooner than this after its start is crash-looping
MAX_PAUSE_SECONDS = 30.0
GRACE_MARGIN_SECONDS = 5.0  # on top of the workers' own grace: time to release and exit


@dataclass(frozen=True)
class ChildSpec:
    """One supervised command and what it serves."""

    name: str
    argv: list[str]
    listens: str


@dataclass
class Child:
    """A running (or waiting to restart) child."""

    spec: ChildSpec
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    quick_deaths: int = 0
    restart_at: float = 0.0
    exit_codes: list[int] = field(default_factory=list)


def plan_up(settings: IngestSettings, *, workers: int, with_service: bool) -> list[ChildSpec]:
    """The children of `up`: N workers (not reaping; one with N's slots when each would load
    its own model, see local_workers.py), one reaper, and the service if present."""
    base = [sys.executable, "-m", "ingestq.cli"]
    where = redact(settings.redis.url) if settings.redis.url else "embedded server"
    layout = local_layout(settings, workers)
    slots = f", {layout.concurrency} slots, one model" if layout.concurrency else ""
    specs = [ChildSpec(f"worker-{i + 1}", [*base, "worker", "--no-reaper", *layout.argv()],
                       f"jobs from {where}{slots}")
             for i in range(layout.processes)]
    specs.append(ChildSpec("reaper", [*base, "reaper"], f"expired leases on {where}"))
    if with_service:
        svc = settings.service
        specs.append(ChildSpec("service", [*base, "serve"], f"http://{svc.host}:{svc.port}"))
    return specs


class Supervisor:
    """Starts children, restarts the ones that die, and stops them all gracefully."""

    def __init__(self, specs: list[ChildSpec], *, grace_seconds: float,
                 report: Callable[[str], None], env: dict[str, str] | None = None,
                 on_spawn: Callable[[list[int]], None] | None = None) -> None:
        self.children = [Child(s) for s in specs]
        self.grace = grace_seconds
        self.report = report
        self.env = env
        self.on_spawn = on_spawn  # told every child pid after each start (the up lock file)
        self.stopping = threading.Event()
        self.signals = 0

    def _spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.spec.argv, stdin=subprocess.DEVNULL, env=self.env,
                                      start_new_session=True, preexec_fn=die_with_parent())
        child.started = time.monotonic()
        if self.on_spawn is not None:
            self.on_spawn([c.proc.pid for c in self.children if c.proc is not None])
        self.report(f"started {child.spec.name} (pid {child.proc.pid}): {child.spec.listens}")

    def start(self) -> None:
        """Start every child."""
        for child in self.children:
            self._spawn(child)

    def check(self) -> None:
        """Restart children that exited; pause longer each time one dies right after starting."""
        now = time.monotonic()
        for child in self.children:
            if child.proc is not None:
                code = child.proc.poll()
                if code is None:
                    continue
                child.exit_codes.append(code)
                quick = now - child.started < QUICK_DEATH_SECONDS
                child.quick_deaths = child.quick_deaths + 1 if quick else 0
                pause = min(MAX_PAUSE_SECONDS, 2.0 ** child.quick_deaths - 1) if quick else 0.0
                child.restart_at = now + pause
                child.proc = None
                self.report(f"{child.spec.name} exited with code {code}; restarting"
                            + (f" in {pause:g} s" if pause else ""))
            if now >= child.restart_at and not self.stopping.is_set():
                child.restarts += 1
                self._spawn(child)

    def _forward(self, sig: int) -> None:
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(sig)

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """First signal: graceful stop; second: forward again so workers release at once."""
        self.signals += 1
        self.stopping.set()
        if self.signals > 1:  # the first SIGTERM is sent by stop(), once
            self.report("second signal: workers hand their jobs back and exit now")
            self._forward(signal.SIGTERM)

    def stop(self) -> int:
        """Wait for the children within the grace period, then kill the rest; 0 when all left."""
        self._forward(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        killed = 0
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
                killed += 1
                self.report(f"{child.spec.name} did not stop within {self.grace:g} s: killed")
        return 1 if killed else 0

    def run(self) -> int:
        """Supervise until SIGTERM, SIGINT or SIGHUP, then stop everything; returns the exit code.

        SIGHUP (the terminal closed) stops like SIGTERM: a supervisor that died of it would leave
        its children running unsupervised.
        """
        previous = {s: signal.signal(s, self.on_signal)
                    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            self.start()
            while not self.stopping.wait(POLL_SECONDS):
                self.check()
            self.report("stopping: SIGTERM sent to every child, waiting for them")
            return self.stop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def default_grace(settings: IngestSettings) -> float:
    """Workers' grace period plus time to hand back and exit."""
    return settings.worker.shutdown_grace_seconds + GRACE_MARGIN_SECONDS


def child_env() -> dict[str, str]:
    """The environment children inherit (INGESTQ_CONFIG carries --config on)."""
    return dict(os.environ)

