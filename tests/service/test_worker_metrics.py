"""A worker process serves its own process metrics when given a port, on loopback by default."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
from support.procs import env_for, ingestctl, stop, wait_for

from ingestq.config import IngestSettings

pytestmark = pytest.mark.slow  # every test here starts real processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return None
        addr = str(s.getsockname()[0])
    return None if addr.startswith("127.") else addr


def scrape(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as res:
            return str(res.read().decode())
    except OSError:
        return ""


def test_worker_serves_process_metrics_on_its_port(settings: IngestSettings,
                                                   tmp_path: Path) -> None:
    port = free_port()
    w = ingestctl(env_for(settings, worker__metrics_port=port), "worker",
                  log=tmp_path / "w.log")
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_for(lambda: "process_cpu_seconds_total" in scrape(url), 30, "worker metrics")
        text = scrape(url)
        assert "process_resident_memory_bytes" in text
        addr = outward_address()
        if addr is not None:  # loopback only: not on the machine's network address
            with socket.socket() as s:
                s.settimeout(1)
                assert s.connect_ex((addr, port)) != 0
    finally:
        stop(w)
