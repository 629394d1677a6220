"""The worker's settings: the ``ingest.worker`` block (how a worker process runs handlers)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ingestq.core.settings import Block, seconds


class WorkerSettings(Block):
    """How a worker process runs handlers."""

    concurrency: int = Field(8, ge=1)  # jobs in flight per worker process
    # thread: handlers share the worker process (fast); process: each slot is a child process,
    # so a segfault, OOM kill or os._exit is seen at once and a stuck handler can be killed.
    isolation: Literal["thread", "process"] = "thread"
    claim_batch: int = Field(100, ge=1)  # most jobs taken per claim round trip
    # Extra jobs claimed ahead while recent attempts are short (so round trips, not handlers,
    # would bound throughput); 0 turns it off. Long jobs are never hoarded: see below.
    prefetch: int = Field(32, ge=0)
    # "short": moving average under 50 ms
    prefetch_below_seconds: float = seconds(0.05, positive=False)
    shutdown_grace_seconds: float = seconds(25.0, positive=False)  # fits Kubernetes' default 30 s
    run_reaper: bool = True  # every worker also reaps, so no separate reaper process is required
    metrics_port: int | None = Field(None, ge=1, le=65535)  # per-process metrics; off by default
    # loopback by default (security); 0.0.0.0 in a container scraped from outside
    metrics_addr: str = "127.0.0.1"
