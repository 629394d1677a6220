"""up supervises workers and a reaper: restarts a child that dies, stops all on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.procs import env_for, wait_for

from ingestq.config import IngestSettings
from ingestq.core import worker_registry
from ingestq.core.queue import Queue

pytestmark = pytest.mark.slow  # every test here starts real processes


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_restarts_a_killed_worker_and_stops_every_child_on_sigterm(
        settings: IngestSettings, live_queue: Queue, tmp_path: Path) -> None:
    log = tmp_path / "up.log"
    env = env_for(settings, worker__shutdown_grace_seconds=2)
    with open(log, "w") as stderr:
        up = subprocess.Popen([sys.executable, "-m", "ingestq.cli", "up", "--workers", "1",
                               "--no-service"], env=env, stderr=stderr,
                              stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: worker_registry.live_workers(live_queue), 20, "the first worker")
        first = worker_registry.live_workers(live_queue)[0].pid
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: any(w.pid != first for w in worker_registry.live_workers(live_queue)), 20,
                 "the supervisor to restart the killed worker")
        second = next(w.pid for w in worker_registry.live_workers(live_queue) if w.pid != first)
        text = log.read_text()
        reaper = int(re.search(r"started reaper \(pid (\d+)\)", text).group(1))  # type: ignore[union-attr]
        assert "worker-1 exited with code -9; restarting" in text
        up.send_signal(signal.SIGTERM)
        assert up.wait(15) == 0
    finally:
        if up.poll() is None:
            up.kill()
    assert not alive(second) and not alive(reaper)
    assert all(w.pid != second for w in worker_registry.live_workers(live_queue))  # withdrew itself
    assert "server: unix://" in log.read_text() or settings.redis.url
