"""Step 1: enqueue N counting no-ops, start the workers, time until the counter reaches N."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import procs
from server import Server
from systems import Config, System
from workers.common import COUNT_KEY

DRAIN_CAP_SECONDS = 600.0


@dataclass(frozen=True)
class Drain:
    """One run: enqueue rate, drain rate from worker spawn, and from the first completion."""

    enqueue: float
    wall: float  # N / (last completion - spawn): includes the workers' start-up
    steady: float  # (N - 1) / (last completion - first completion)
    done: int  # counter at the end: N unless the cap was hit; above N means duplicates


def one_run(server: Server, system: System, config: Config, n: int) -> Drain:
    """Flush db 0, enqueue, drain, stop the workers."""
    client = server.client()
    client.flushdb()
    enqueue_s = procs.produce(system, server.url(), "noops", n)
    spawned = time.perf_counter()
    workers = procs.start(config.commands, server.url(), config.env,
                          procs.config_tag(system, config))
    first = last = None
    done = 0
    try:
        while time.perf_counter() - spawned < DRAIN_CAP_SECONDS:
            done = int(client.get(COUNT_KEY) or 0)
            now = time.perf_counter()
            if done >= 1 and first is None:
                first = now
            if done >= n:
                last = now
                break
            time.sleep(0.005)
    finally:
        procs.stop(workers)
    done = int(client.get(COUNT_KEY) or 0)
    end = last or time.perf_counter()
    steady = (done - 1) / (end - first) if first and end > first else 0.0
    return Drain(n / enqueue_s, done / (end - spawned), steady, done)


def median_of(runs: list[Drain]) -> Drain:
    """The median of each figure over the runs (done: the minimum)."""
    return Drain(statistics.median(r.enqueue for r in runs),
                 statistics.median(r.wall for r in runs),
                 statistics.median(r.steady for r in runs), min(r.done for r in runs))


def measure(server: Server, system: System, config: Config, n: int, repeats: int) -> Drain:
    """Median of `repeats` runs of one configuration, printed as it goes."""
    runs = []
    for i in range(repeats):
        runs.append(one_run(server, system, config, n))
        r = runs[-1]
        print(f"  {system.name} [{config.label}] run {i + 1}: enqueue {r.enqueue:,.0f}/s, "
              f"drain {r.wall:,.0f}/s wall, {r.steady:,.0f}/s steady, done {r.done}",
              flush=True)
    return median_of(runs)
