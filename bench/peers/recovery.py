"""Step 2: one 20 s job, SIGKILL its worker once it started, start a fresh worker, wait.

Every trial runs in its own thread on its own db number, so all of them share the cap.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import procs
from server import Server
from systems import System
from workers.common import STARTS_KEY

START_CAP_SECONDS = 60.0


@dataclass(frozen=True)
class Trial:
    """A kill-and-restart trial: which system, which settings, on which db."""

    label: str
    system: System
    db: int
    env: dict[str, str]


@dataclass
class Outcome:
    """Seconds from the kill to the job's second start, or None with a note."""

    seconds: float | None = None
    note: str = ""


def run_trial(server: Server, trial: Trial, cap: float) -> Outcome:
    """Enqueue, start, kill on the start marker, restart, wait for the second start."""
    url = server.url(trial.db)
    client = server.client(trial.db)
    client.flushdb()
    procs.produce(trial.system, url, "long")
    tag = f"recovery-{trial.label.replace(' ', '_')}"
    first = procs.start([trial.system.recovery], url, trial.env, tag + "-first")
    deadline = time.monotonic() + START_CAP_SECONDS
    while client.llen(STARTS_KEY) < 1:
        if time.monotonic() > deadline:
            procs.kill(first)
            return Outcome(None, "job never started")
        time.sleep(0.01)
    procs.kill(first)
    killed = time.time()
    fresh = procs.start([trial.system.recovery], url, trial.env, tag + "-fresh")
    try:
        while time.time() - killed < cap:
            starts = client.lrange(STARTS_KEY, 0, -1)
            if len(starts) >= 2:
                return Outcome(float(starts[1]) - killed, "")
            time.sleep(0.05)
    finally:
        procs.stop(fresh)
    return Outcome(None, f"not run again within {cap:.0f} s")


def run_all(server: Server, trials: list[Trial], cap: float) -> dict[str, Outcome]:
    """All trials in parallel threads; each result keyed by its label."""
    results: dict[str, Outcome] = {}

    def one(t: Trial) -> None:
        try:
            results[t.label] = run_trial(server, t, cap)
        except Exception as exc:
            results[t.label] = Outcome(None, f"error: {exc}"[:200])
        print(f"  recovery {t.label}: {results[t.label]}", flush=True)

    threads = [threading.Thread(target=one, args=(t,)) for t in trials]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results
