"""The dashboard on a real stack: the service and a worker as processes on the embedded server,
driven by Debian's headless Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis import Redis
from support.auth import TOKEN
from support.procs import env_for, ingestctl, stop
from support.promtool import free_port
from support.settings import fast_settings
from support.tools import missing_tool

from ingestq.config import IngestSettings
from ingestq.core.queue import Queue
from ingestq.core.worker_registry import live_workers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
# Screenshots of each view go here when set (docs/screenshots is committed from such a run).
SHOTS_ENV = "INGESTQ_SCREENSHOTS"


@dataclass
class Stack:
    """The running service and worker, their queue, and the page's base URL."""

    url: str
    queue: Queue
    service: subprocess.Popen[str]
    worker: subprocess.Popen[str]


def _wait_http(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: the process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="module")
def started(server_client: Redis, base_settings: IngestSettings,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`ingestctl serve` (with a token) and `ingestctl worker` for noop and sleep jobs, started
    but not waited for: they boot while Chromium launches."""
    settings = fast_settings(base_settings)
    env = env_for(settings, service_token=TOKEN)
    logs = tmp_path_factory.mktemp("dashboard-logs")
    port = free_port()
    service = ingestctl(env, "serve", "--port", str(port), log=logs / "service.log")
    worker = ingestctl(env, "worker", "--kinds", "noop,sleep", "--concurrency", "2",
                       log=logs / "worker.log")
    try:
        yield Stack(f"http://127.0.0.1:{port}", Queue(server_client, settings), service, worker)
    finally:
        for proc in (worker, service):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                stop(proc)


@pytest.fixture(scope="module")
def stack(started: Stack, browser: object) -> Stack:
    """The stack, answering, its worker registered (the overview lists the kinds it takes)."""
    _wait_http(f"{started.url}/healthz", started.service)
    deadline = time.monotonic() + 30
    while not live_workers(started.queue):
        if started.worker.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the worker did not register (exit {started.worker.poll()})")
        time.sleep(0.1)
    return started


@pytest.fixture(scope="module")
def browser(started: Stack) -> Iterator[object]:
    """Headless Chromium (Debian's package; Playwright's own download cannot work here)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        missing_tool(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    """Where screenshots go: $INGESTQ_SCREENSHOTS when set, else the test's tmp dir."""
    target = os.environ.get(SHOTS_ENV)
    out = Path(target) if target else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    yield out
    if not target:
        shutil.rmtree(tmp_path, ignore_errors=True)
