"""Real worker and reaper processes for crash tests: started by ingestctl, stopped by signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis

from ingestq.config import IngestSettings
from ingestq.core import snapshot
from ingestq.core.queue import Queue

TESTS_DIR = Path(__file__).resolve().parents[1]  # tests/: support.* importable in children


def env_for(settings: IngestSettings, **overrides: object) -> dict[str, str]:
    """Environment that points a child process at the test server and the test's queue."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTQ_")}
    if settings.redis.url:
        env["INGESTQ_REDIS_URL"] = settings.redis.url
    if settings.redis.min_replicas_acked:  # an "-acked" topology: its children wait too
        env["INGESTQ_REDIS__MIN_REPLICAS_ACKED"] = str(settings.redis.min_replicas_acked)
    env["INGESTQ_DATA_DIR"] = settings.data_dir
    env["INGESTQ_QUEUE__NAME"] = settings.queue.name
    rc = settings.queue_recovery
    for key in ("lease_seconds", "heartbeat_seconds", "reaper_interval_seconds",
                "max_crash_recoveries", "job_timeout_seconds", "stale_job_action"):
        env[f"INGESTQ_QUEUE_RECOVERY__{key.upper()}"] = str(getattr(rc, key))
    for key, value in overrides.items():
        env[f"INGESTQ_{key.upper()}"] = str(value).lower() if isinstance(value, bool) else str(
            value)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")])
    return env


def ingestctl(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen[str]:
    """Start `ingestctl ARGS` as a real process (stderr to `log` when given)."""
    stderr = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "ingestq.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=stderr, text=True)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll until true; fail the test naming what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop(proc: subprocess.Popen[str], timeout: float = 10) -> int:
    """Make sure a process is gone; returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
    return proc.wait(timeout)


def wait_until_on_disk(client: Redis) -> None:
    """Block until every write the server has taken is fsynced to its AOF.

    A probe write and WAITAOF on the same connection: the AOF is written in order, so once the
    probe is on disk, so is everything before it (whichever client wrote it).
    """
    pipe = client.pipeline(transaction=False)
    pipe.incr("test:fsync-probe")
    pipe.execute_command("WAITAOF", 1, 0, 10_000)
    _, (local, _replicas) = pipe.execute()
    assert local == 1, "the server did not fsync within 10 s"


def wait_for_expired_leases(queue: Queue, count: int, timeout: float = 10) -> None:
    """Wait (on the server's clock) until ``count`` leases of this queue have run out."""
    wait_for(lambda: snapshot.take(queue).stale >= count, timeout,
             f"{count} lease(s) to run out")
