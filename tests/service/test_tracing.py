"""Trace context travels inside the job: HTTP enqueue span -> worker attempt span.

OpenTelemetry is optional: these tests need the [tracing] extra, except the one proving that
ingestq runs without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from support.auth import AUTH

from ingestq.core import queries
from ingestq.core.queue import Queue

otel = pytest.importorskip("opentelemetry.sdk.trace", reason="the [tracing] extra is not installed")
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Finished spans of this test (the global provider can be set once per process)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, otel.TracerProvider):
        provider = otel.TracerProvider()
        trace.set_tracer_provider(provider)
    if not getattr(provider, "_ingestq_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        provider._ingestq_test_exporter = True  # type: ignore[attr-defined]
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def run_burst_worker(queue: Queue) -> None:
    from ingestq.worker.handlers import default_registry, load_modules
    from ingestq.worker.loop import Worker

    load_modules(["ingestq.tracing"])
    Worker(queue, default_registry, kinds=["noop"], burst=True, run_reaper=False).run()


def test_attempt_span_continues_the_trace_of_the_http_enqueue(
        api: TestClient, svc_queue: Queue, spans: InMemorySpanExporter) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    header = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    res = api.post("/jobs", json={"kind": "noop"}, headers={**AUTH, **header})
    assert res.status_code == 201
    run_burst_worker(svc_queue)
    by_name = {s.name: s for s in spans.get_finished_spans()}
    enqueue, attempt = by_name["enqueue noop"], by_name["attempt noop"]
    assert format(enqueue.context.trace_id, "032x") == trace_id
    assert enqueue.parent is not None and format(enqueue.parent.span_id, "016x") == \
        "00f067aa0ba902b7"
    assert attempt.context.trace_id == enqueue.context.trace_id
    assert attempt.parent is not None and attempt.parent.span_id == enqueue.context.span_id
    assert attempt.attributes is not None
    assert attempt.attributes["ingestq.job.id"] == res.json()["id"]
    assert queries.get_job(svc_queue, res.json()["id"]).state.value == "done"


def test_an_enqueue_without_a_caller_trace_starts_one_that_the_attempt_joins(
        api: TestClient, svc_queue: Queue, spans: InMemorySpanExporter) -> None:
    res = api.post("/jobs", json={"kind": "noop"}, headers=AUTH)
    carried = queries.get_job(svc_queue, res.json()["id"]).payload["_trace"]["traceparent"]
    run_burst_worker(svc_queue)
    by_name = {s.name: s for s in spans.get_finished_spans()}
    enqueue, attempt = by_name["enqueue noop"], by_name["attempt noop"]
    assert enqueue.parent is None
    assert carried.split("-")[1] == format(enqueue.context.trace_id, "032x")
    assert attempt.parent is not None and attempt.parent.span_id == enqueue.context.span_id


def test_a_failing_attempt_marks_its_span_as_an_error(spans: InMemorySpanExporter) -> None:
    from ingestq.worker.handlers import JobContext
    from ingestq.worker.hooks import around_attempt

    job = JobContext(id="1", kind="noop", payload={}, attempt=2)
    with pytest.raises(ValueError), around_attempt(job):
        raise ValueError("bad input")
    (span,) = [s for s in spans.get_finished_spans() if s.name == "attempt noop"]
    assert span.status.status_code is trace.StatusCode.ERROR
    assert span.attributes is not None and span.attributes["ingestq.job.attempt"] == 2


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return {**env, **extra}


@pytest.mark.slow
def test_the_queue_and_workers_run_without_opentelemetry() -> None:
    # The service needs FastAPI, which itself depends on opentelemetry-api; queue, workers
    # and the CLI's other commands must not.
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from ingestq.worker.handlers import load_modules; load_modules([])\n"
        "import ingestq.tracing as t, ingestq.worker.loop\n"
        "from ingestq.worker.hooks import _attempt_hooks\n"
        "assert not t.AVAILABLE and not t.configure() and _attempt_hooks == []\n"
        "with t.enqueue_span('noop', {'traceparent': 'x'}) as carry: assert carry == {}\n"
        "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=child_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9"),
                         timeout=60, check=False)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


class OtlpSink(BaseHTTPRequestHandler):
    """Records what an OTLP/HTTP exporter posts."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, self.headers["content-type"], body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


EXPORT_SCRIPT = (
    "import ingestq.tracing as t\n"
    "from opentelemetry import trace\n"
    "with t.enqueue_span('noop') as carry: pass\n"
    "print(t._configured, type(trace.get_tracer_provider()).__name__, bool(carry))\n")


@pytest.mark.slow
def test_spans_are_exported_over_otlp_only_when_an_endpoint_is_set() -> None:
    OtlpSink.received = []
    sink = HTTPServer(("127.0.0.1", 0), OtlpSink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{sink.server_address[1]}"
        off = subprocess.run([sys.executable, "-c", EXPORT_SCRIPT], capture_output=True,
                             text=True, env=child_env(), timeout=60, check=False)
        assert off.stdout.split() == ["False", "ProxyTracerProvider", "False"], off.stderr
        assert OtlpSink.received == []
        on = subprocess.run([sys.executable, "-c", EXPORT_SCRIPT], capture_output=True,
                            text=True, env=child_env(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint),
                            timeout=60, check=False)
        assert on.stdout.split() == ["True", "TracerProvider", "True"], on.stderr
    finally:
        sink.shutdown()
    (path, content_type, body), = OtlpSink.received  # flushed at exit
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    assert b"enqueue noop" in body and b"ingestq" in body


@pytest.mark.slow
def test_ingestctl_enqueue_starts_the_trace_that_the_job_carries(svc_queue: Queue) -> None:
    import json

    from support.procs import env_for

    OtlpSink.received = []
    sink = HTTPServer(("127.0.0.1", 0), OtlpSink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    env = {k: v for k, v in env_for(svc_queue.settings).items() if not k.startswith("OTEL_")}
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink.server_address[1]}"
    try:
        res = subprocess.run([sys.executable, "-m", "ingestq.cli", "enqueue", "noop",
                              "--json"], capture_output=True, text=True, env=env, timeout=60,
                             check=False)
    finally:
        sink.shutdown()
    assert res.returncode == 0, res.stderr
    (job,) = json.loads(res.stdout)
    carried = queries.get_job(svc_queue, job["id"]).payload["_trace"]["traceparent"]
    (_, _, body), = OtlpSink.received  # the CLI's span, flushed at exit
    assert b"enqueue noop" in body
    assert bytes.fromhex(carried.split("-")[1]) in body  # the span's trace id is the job's
