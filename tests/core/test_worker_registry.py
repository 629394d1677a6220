"""The live-worker registry: workers publish themselves and drop out when they stop beating."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from redis import Redis
from support.procs import env_for, ingestctl, stop, wait_for
from support.settings import fast_settings

from ingestq.config import IngestSettings
from ingestq.core import worker_registry
from ingestq.core.queue import Queue

pytestmark = pytest.mark.slow  # every test here starts real processes


def test_worker_publishes_itself_and_vanishes_after_kill_9(
        client: Redis, base_settings: IngestSettings, tmp_path: Path) -> None:
    settings = fast_settings(base_settings)
    q = Queue(client, settings)
    w = ingestctl(env_for(settings), "worker", "--concurrency", "3", log=tmp_path / "w.log")
    try:
        wait_for(lambda: worker_registry.live_workers(q), 20, "worker registration")
        (info,) = worker_registry.live_workers(q)
        assert info.pid == w.pid and info.concurrency == 3 and info.version
        w.send_signal(signal.SIGKILL)
        wait_for(lambda: not worker_registry.live_workers(q),
                 settings.queue_recovery.lease_seconds + 5, "worker to drop out")
    finally:
        stop(w)


def test_graceful_stop_withdraws_the_worker_at_once(
        client: Redis, base_settings: IngestSettings, tmp_path: Path) -> None:
    settings = fast_settings(base_settings, lease_seconds=60.0)
    q = Queue(client, settings)
    w = ingestctl(env_for(settings), "worker", log=tmp_path / "w.log")
    try:
        wait_for(lambda: worker_registry.live_workers(q), 20, "worker registration")
        w.send_signal(signal.SIGTERM)
        assert w.wait(15) == 0
        assert worker_registry.live_workers(q) == []
    finally:
        stop(w)
