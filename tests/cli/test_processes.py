"""Process life of the operator commands: `up` on SIGHUP and SIGKILL, one `up` per queue,
`serve` stopping with exit 0, and the embedded server's `server status|stop`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from support.procs import env_for, wait_for
from support.promtool import free_port

from ingestq.config import IngestSettings
from ingestq.core import worker_registry
from ingestq.core.queue import Queue

from .conftest import run_ingestctl


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie is gone


def start_up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "w") as stderr:
        return subprocess.Popen([sys.executable, "-m", "ingestq.cli", "up", "--workers",
                                 "1", "--no-service"], env=env, stderr=stderr,
                                stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def child_pids(log: Path) -> list[int]:
    return [int(p) for p in re.findall(r"started \S+ \(pid (\d+)\)", log.read_text())]


@pytest.mark.slow
def test_up_stops_its_children_on_sighup_and_a_second_up_refuses_meanwhile(
        settings: IngestSettings, live_queue: Queue, tmp_path: Path) -> None:
    env = env_for(settings, worker__shutdown_grace_seconds=2)
    up = start_up(env, tmp_path / "up.log")
    try:
        wait_for(lambda: worker_registry.live_workers(live_queue), 20, "the worker of `up`")
        wait_for(lambda: len(child_pids(tmp_path / "up.log")) == 2, 10, "worker and reaper")
        second = run_ingestctl(settings, "up", "--workers", "1", "--no-service")
        assert second.returncode == 1
        assert f"another `ingestctl up` (pid {up.pid}) already runs this queue" in second.stderr
        up.send_signal(signal.SIGHUP)  # the terminal closed
        assert up.wait(15) == 0
    finally:
        if up.poll() is None:
            up.kill()
    pids = child_pids(tmp_path / "up.log")
    assert len(pids) == 2 and not any(alive(p) for p in pids)


@pytest.mark.slow
def test_children_of_a_killed_up_stop_too_and_the_next_up_may_start(
        settings: IngestSettings, live_queue: Queue, tmp_path: Path) -> None:
    env = env_for(settings, worker__shutdown_grace_seconds=2)
    up = start_up(env, tmp_path / "up.log")
    wait_for(lambda: len(child_pids(tmp_path / "up.log")) == 2, 20, "worker and reaper")
    up.kill()  # SIGKILL: no handler runs; the kernel's parent-death signal stops the children
    up.wait(5)
    pids = child_pids(tmp_path / "up.log")
    wait_for(lambda: not any(alive(p) for p in pids), 15, "the orphaned children to stop")
    again = start_up(env, tmp_path / "again.log")
    try:
        wait_for(lambda: len(child_pids(tmp_path / "again.log")) == 2, 20, "the next up")
        again.send_signal(signal.SIGTERM)
        assert again.wait(15) == 0
    finally:
        if again.poll() is None:
            again.kill()


def test_serve_stops_gracefully_with_exit_zero_on_sigterm(settings: IngestSettings) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ingestq.cli", "serve", "--port",
                             str(port)], env=env_for(settings), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for(healthy, 20, "the service to answer")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr is not None and b"ingestq service stopped" in proc.stderr.read()


def test_server_status_and_stop_manage_the_embedded_server_a_command_started(
        settings: IngestSettings, tmp_path: Path) -> None:
    if settings.redis.url:
        pytest.skip("the suite runs against a configured server, not the embedded default")
    own = settings.model_copy(update={"data_dir": str(tmp_path / "data")})
    before = run_ingestctl(own, "server", "status", "--json")
    assert before.returncode == 1 and '"running": false' in before.stdout
    started = run_ingestctl(own, "status")
    try:
        assert started.returncode == 0
        assert "started the embedded Valkey server" in started.stderr
        assert "ingestctl server stop" in started.stderr
        again = run_ingestctl(own, "status")
        assert "started the embedded Valkey server" not in again.stderr  # attached, not started
        running = run_ingestctl(own, "server", "status")
        assert running.returncode == 0 and "embedded server running (pid" in running.stdout
    finally:
        stopped = run_ingestctl(own, "server", "stop", "--json")
    assert stopped.returncode == 0 and '"stopped": true' in stopped.stdout
    assert run_ingestctl(own, "server", "status").returncode == 1


def test_server_commands_refuse_a_configured_url(settings: IngestSettings) -> None:
    result = run_ingestctl(settings, "server", "status", redis_url="redis://127.0.0.1:1/0")
    assert result.returncode == 2 and "not managed by ingestctl" in result.stderr
