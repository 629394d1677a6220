"""The service over real sockets: uvicorn in a thread, and `ingestctl serve` as a process."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.auth import AUTH, TOKEN
from support.procs import env_for, ingestctl, wait_for
from support.promtool import free_port

from ingestq.core import queries
from ingestq.core.queue import Queue
from service.conftest import LiveServer


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(svc_queue: Queue) -> None:
    sent = []

    def body() -> Iterator[bytes]:
        for _ in range(10):
            sent.append(1)
            yield b" " * 1000  # 10 kB of JSON whitespace, no Content-Length

    with LiveServer(svc_queue) as live:
        res = httpx.post(f"http://127.0.0.1:{live.port}/jobs", content=body(),
                         headers={**AUTH, "content-type": "application/json"}, timeout=10)
        assert "content-length" not in {k.lower() for k in res.request.headers}
        assert res.status_code == 413
        assert res.json()["detail"] == {"limit_bytes": 4096}
        ok = httpx.post(f"http://127.0.0.1:{live.port}/jobs", json={"kind": "noop"},
                        headers=AUTH, timeout=10)
    assert ok.status_code == 201  # the server still serves after refusing a stream
    assert queries.counts(svc_queue)["pending"] == 1


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
        svc_queue: Queue) -> None:
    with LiveServer(svc_queue) as live:
        res = httpx.post(f"http://127.0.0.1:{live.port}/jobs", content=b"{" + b" " * 5000 + b"}",
                         headers={**AUTH, "content-type": "application/json"}, timeout=10)
    assert res.status_code == 413 and "max_body_bytes" in res.json()["error"]


@pytest.mark.slow
def test_ingestctl_serve_binds_loopback_and_takes_the_token_from_the_environment(
        svc_queue: Queue, tmp_path: Path) -> None:
    port = free_port()
    env = env_for(svc_queue.settings)
    env["INGESTQ_SERVICE_TOKEN"] = TOKEN
    proc = ingestctl(env, "serve", "--port", str(port), log=tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 20, "ingestctl serve answering /healthz")
        res = httpx.post(f"{url}/jobs", json={"kind": "noop"}, headers=AUTH, timeout=5)
        assert res.status_code == 201
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True,
                                   text=True, check=False).stdout
        local_addresses = [line.split()[3] for line in listening.splitlines()]
        assert local_addresses == [f"127.0.0.1:{port}"]
    finally:
        proc.terminate()
        proc.wait(10)
    assert queries.counts(svc_queue)["pending"] == 1


def test_a_worker_process_can_serve_its_own_process_metrics_on_loopback() -> None:
    from ingestq.service.metrics import start_worker_metrics_server

    port = free_port()
    server = start_worker_metrics_server(port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()
    assert server.server_address[0] == "127.0.0.1"
    assert "process_resident_memory_bytes" in text and "python_gc_collections_total" in text
