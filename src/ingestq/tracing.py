"""OpenTelemetry tracing, optional: a span per enqueue and per attempt, linked across the queue.

The enqueue span's context travels inside the job, as a W3C ``traceparent`` under the reserved
payload key ``_trace``; the worker's attempt span continues that trace. Spans are exported over
OTLP/HTTP only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is
set (the standard OpenTelemetry variables; the exporter reads the rest of its ``OTEL_*``
settings itself); otherwise, or when opentelemetry is not installed (extra ``[tracing]``),
nothing is exported. A program that installs its own tracer provider before importing ingestq
gets ingestq's spans in it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from ingestq.logs import get_logger
from ingestq.worker.handlers import JobContext
from ingestq.worker.hooks import add_attempt_hook

TRACE_KEY = "_trace"  # reserved payload key: the W3C trace context of the enqueue span
ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace

    AVAILABLE = True
except ImportError:  # not even the API (FastAPI >= 0.16x depends on it; workers do not)
    AVAILABLE = False

_configured = False


def configure(service_name: str = "ingestq") -> bool:
    """Install an OTLP exporter when an OTLP endpoint variable is set; True when it did."""
    global _configured
    if _configured or not AVAILABLE or not any(os.environ.get(v) for v in ENDPOINT_VARS):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        # Only the API is here (FastAPI pulls it in): say why nothing is exported, run on.
        get_logger("ingestq.tracing").warning(
            "OTLP endpoint set but the [tracing] extra is missing; no spans are exported",
            missing=str(exc))
        return False

    # Attributes given here override the environment's, so name the service only when the
    # operator did not (OTEL_SERVICE_NAME or service.name in OTEL_RESOURCE_ATTRIBUTES).
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", "")
    provider = TracerProvider(resource=Resource.create({} if named else {
        "service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    return True


@contextlib.contextmanager
def enqueue_span(kind: str, headers: Mapping[str, str] | None = None
                 ) -> Iterator[dict[str, Any]]:
    """A span around an enqueue; yields the payload entries that carry its context.

    An incoming ``traceparent`` header (from the HTTP caller) becomes the parent.
    """
    if not AVAILABLE:
        yield {}
        return
    # Headers (an HTTP caller's): their traceparent, if any, is the parent. None (a caller in
    # this process, such as an MCP tool call): the current span is.
    parent = propagate.extract(dict(headers)) if headers is not None else None
    tracer = trace.get_tracer("ingestq")
    with tracer.start_as_current_span(f"enqueue {kind}", context=parent,
                                      kind=trace.SpanKind.PRODUCER) as span:
        span.set_attribute("ingestq.job.kind", kind)
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield {TRACE_KEY: carrier} if carrier else {}


@contextlib.contextmanager
def attempt_span(job: JobContext) -> Iterator[None]:
    """The span of one attempt, continuing the trace carried by the job (attempt hook)."""
    carrier = job.payload.get(TRACE_KEY)
    parent = propagate.extract(carrier) if isinstance(carrier, dict) else None
    tracer = trace.get_tracer("ingestq")
    token = otel_context.attach(parent) if parent is not None else None
    try:
        with tracer.start_as_current_span(f"attempt {job.kind}",
                                          kind=trace.SpanKind.CONSUMER) as span:
            span.set_attribute("ingestq.job.id", job.id)
            span.set_attribute("ingestq.job.kind", job.kind)
            span.set_attribute("ingestq.job.attempt", job.attempt)
            yield
    finally:
        if token is not None:
            otel_context.detach(token)



class ToolSpan:
    """What a tool call records on its span once it knows (no-op without opentelemetry)."""

    def __init__(self, span: Any = None) -> None:
        self._span = span

    def result_count(self, count: int) -> None:
        """How many items (hits, sections, documents, jobs) the result holds."""
        if self._span is not None:
            self._span.set_attribute("ingestq.mcp.result_count", count)


@contextlib.contextmanager
def tool_span(tool: str, argument_sizes: Mapping[str, int], store: str) -> Iterator[ToolSpan]:
    """The span of one MCP tool call: tool name, argument sizes, store, result count.

    It is a child of the MCP SDK's request span (whose parent the client may send in ``_meta``),
    and the ``ingest`` tool's enqueue spans are its children, so one trace runs from the
    assistant's call through the enqueue to every worker attempt.
    """
    if not AVAILABLE:
        yield ToolSpan()
        return
    tracer = trace.get_tracer("ingestq")
    with tracer.start_as_current_span(f"mcp.tool {tool}") as span:
        span.set_attribute("ingestq.mcp.tool", tool)
        span.set_attribute("ingestq.store", store)
        for name, size in argument_sizes.items():
            span.set_attribute(f"ingestq.mcp.arg.{name}.size", size)
        yield ToolSpan(span)

if AVAILABLE:
    configure()
    add_attempt_hook(attempt_span)
