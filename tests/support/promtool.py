"""Test helpers around the real Prometheus tools: ``promtool`` and a throw-away ``prometheus``.

Both binaries come from Debian's ``prometheus`` package (``apt-get install prometheus``). Tests
call :func:`require_binaries` first: where the tools are missing it skips the test, except under
CI, where a missing tool is a failure (support/tools.py).

Typical use::

    tools = require_binaries()
    run_promtool(tools, "check", "rules", "deploy/prometheus/alerts.yml")

    with PrometheusServer.start(tools, config_yaml, tmp_path) as prom:
        samples = prom.wait_for_query('my_metric{job="x"}')
        assert samples[0].value == 42.0
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from support.tools import missing_tool

INSTALL_HINT = (
    "promtool/prometheus not found: install Debian's prometheus package "
    "(apt-get install prometheus), which provides /usr/bin/promtool and /usr/bin/prometheus"
)
READY_TIMEOUT_S = 30.0  # a cold start with an empty data dir takes about a second here
HTTP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class PrometheusBinaries:
    """Paths of the two executables."""

    promtool: Path
    prometheus: Path


@dataclass(frozen=True)
class Sample:
    """One element of an instant query result: its labels and its value."""

    labels: dict[str, str]
    value: float


def find_binaries() -> PrometheusBinaries | None:
    """Return the paths of promtool and prometheus on PATH, or None if either is missing."""
    promtool = shutil.which("promtool")
    prometheus = shutil.which("prometheus")
    if promtool is None or prometheus is None:
        return None
    return PrometheusBinaries(Path(promtool), Path(prometheus))


def require_binaries() -> PrometheusBinaries:
    """Return the binaries; skip the calling test without them, or fail it when env CI is set."""
    found = find_binaries()
    if found is not None:
        return found
    missing_tool(INSTALL_HINT)


def run_promtool(tools: PrometheusBinaries, *args: str,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``promtool <args>`` and return the finished process (stdout and stderr as text)."""
    return subprocess.run(
        [str(tools.promtool), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrometheusServer:
    """A real Prometheus server on a spare loopback port, with its config and data in a folder."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
        """Wrap an already started process; use :meth:`start` to make one."""
        self.process = process
        self.port = port
        self.workdir = workdir

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """File holding the server's stdout and stderr."""
        return self.workdir / "prometheus.log"

    @classmethod
    def start(cls, tools: PrometheusBinaries, config_yaml: str, workdir: Path) -> PrometheusServer:
        """Write the config into workdir, start the server and return once it reports ready."""
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        config.write_text(config_yaml, encoding="utf-8")
        port = free_port()
        with (workdir / "prometheus.log").open("wb") as log:
            process = subprocess.Popen(
                [str(tools.prometheus), f"--config.file={config}",
                 f"--storage.tsdb.path={workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        server = cls(process, port, workdir)
        try:
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with code {self.process.returncode} before it was "
                    f"ready; log {self.log_path}:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=HTTP_TIMEOUT_S) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass  # not listening yet
            time.sleep(0.1)
        raise TimeoutError(
            f"prometheus on port {self.port} not ready after {READY_TIMEOUT_S} s; "
            f"log {self.log_path}:\n{self._log_tail()}")

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def query(self, expr: str) -> list[Sample]:
        """Run an instant PromQL query now; return its samples (a scalar gives one, unlabelled)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
                body: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            raise ValueError(f"prometheus rejected query {expr!r}: {detail}") from None
        return _samples(expr, body)

    def wait_for_query(self, expr: str, timeout: float = 20.0) -> list[Sample]:
        """Repeat :meth:`query` until it returns at least one sample (e.g. after the 1st scrape)."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self.query(expr)
            if samples or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        if not samples:
            raise TimeoutError(
                f"query {expr!r} returned nothing within {timeout} s; targets: {self.targets()}")
        return samples

    def api(self, path: str) -> Any:
        """GET an API path (e.g. ``/api/v1/rules``) and return its decoded JSON body."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=HTTP_TIMEOUT_S) as response:
            return json.load(response)

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets as reported by /api/v1/targets (health, lastError, ...)."""
        active: list[dict[str, Any]] = self.api("/api/v1/targets")["data"]["activeTargets"]
        return active

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and wait for it to exit."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> PrometheusServer:
        """Use as a context manager that stops the server on exit."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Stop the server."""
        self.stop()


def _samples(expr: str, body: dict[str, Any]) -> list[Sample]:
    if body.get("status") != "success":
        raise ValueError(f"query {expr!r} failed: {body.get('error', body)}")
    data = body["data"]
    kind = data["resultType"]
    if kind == "vector":
        return [Sample(dict(item["metric"]), float(item["value"][1])) for item in data["result"]]
    if kind == "scalar":
        return [Sample({}, float(data["result"][1]))]
    raise ValueError(f"query {expr!r} gave a {kind} result; instant queries here take vectors "
                     f"or scalars")
