"""Trace context travels inside the job: HTTP enqueue span -> worker attempt span."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests_auth import AUTH

from ingestq.queue import Queue

otel = pytest.importorskip("opentelemetry.sdk.trace", reason="the [tracing] extra is not installed")


def test_attempt_span_continues_the_trace_of_the_http_enqueue(api: TestClient,
                                                              svc_queue: Queue) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ingestq.handlers import default_registry, load_modules
    from ingestq.worker import Worker

    exporter = InMemorySpanExporter()
    provider = otel.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    header = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    res = api.post("/jobs", json={"kind": "noop"}, headers={**AUTH, **header})
    assert res.status_code == 201

    load_modules([])
    Worker(svc_queue, default_registry, kinds=["noop"], burst=True, run_reaper=False).run()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    enqueue, attempt = spans["enqueue noop"], spans["attempt noop"]
    assert format(enqueue.context.trace_id, "032x") == trace_id
    assert enqueue.parent is not None and format(enqueue.parent.span_id, "016x") == \
        "00f067aa0ba902b7"
    assert attempt.context.trace_id == enqueue.context.trace_id
    assert attempt.parent is not None and attempt.parent.span_id == enqueue.context.span_id
    assert attempt.attributes["ingestq.job.id"] == res.json()["id"]
