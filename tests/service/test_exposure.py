"""Beyond loopback the job reads need the token (a documented choice); serve warns without one."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from procs import env_for, ingestctl, stop, wait_for
from promtool import free_port
from tests_auth import AUTH

from ingestq.config import IngestSettings, ServiceSettings, is_loopback
from ingestq.core.queue import Queue
from ingestq.service.app import create_app

READS = ("/jobs", "/dead", "/jobs/1")


def app_for(q: Queue, host: str, **service: object) -> TestClient:
    settings = q.settings.model_copy(update={"service": q.settings.service.model_copy(
        update=service)})
    return TestClient(create_app(Queue(q.client, settings), host=host))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.org"])
def test_job_reads_need_the_token_when_bound_beyond_loopback(svc_queue: Queue,
                                                              host: str) -> None:
    with app_for(svc_queue, host) as c:
        for path in READS:
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers=AUTH).status_code in (200, 404), path
        for path in ("/healthz", "/metrics"):  # no payloads there: scrapers need no token
            assert c.get(path).status_code == 200


def test_beyond_loopback_with_no_token_job_reads_are_refused_with_the_reason(
        svc_queue: Queue) -> None:
    with app_for(svc_queue, "0.0.0.0", token=None) as c:
        res = c.get("/jobs")
    assert res.status_code == 403 and "read_auth" in res.json()["error"]


@pytest.mark.parametrize(("host", "mode", "open_"), [
    ("127.0.0.1", "auto", True), ("::1", "auto", True), ("localhost", "auto", True),
    ("0.0.0.0", "open", True), ("127.0.0.1", "token", False)])
def test_read_auth_chooses_who_may_read_jobs(svc_queue: Queue, host: str, mode: str,
                                             open_: bool) -> None:
    with app_for(svc_queue, host, read_auth=mode) as c:
        assert (c.get("/jobs").status_code == 200) is open_


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.1", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "db.internal"))
    assert ServiceSettings().read_auth == "auto"


def test_serve_beyond_loopback_without_a_token_warns(settings: IngestSettings,
                                                     tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    proc = ingestctl(env_for(settings), "serve", "--host", "0.0.0.0", "--port",
                     str(free_port()), log=log)
    try:
        wait_for(lambda: "beyond loopback" in log.read_text(), 30, "the warning")
    finally:
        stop(proc)
    assert "no token" in log.read_text() and "INGESTQ_SERVICE_TOKEN" in log.read_text()
