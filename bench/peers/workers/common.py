"""What every system's task module shares: the Redis URL, the counter and the start marker."""

from __future__ import annotations

import os
import time

COUNT_KEY = "bench:count"  # INCR by each no-op: the drain is done when it reaches N
STARTS_KEY = "bench:starts"  # RPUSH of time.time() each time the 20 s job starts
LONG_SECONDS = 20.0


def redis_url() -> str:
    """The server (and db number) this run uses, set by run.py for every subprocess."""
    return os.environ["BENCH_REDIS_URL"]


def concurrency(default: int) -> int:
    """The concurrency run.py asked for, else the library's own default."""
    return int(os.environ.get("BENCH_CONCURRENCY") or default)


def now() -> str:
    """Wall-clock time as the start marker stores it (all processes share this machine)."""
    return repr(time.time())
