"""Prometheus exposition: queue metrics from one snapshot of the shared Redis state.

Counters are the shared counters in Redis, so they include every worker and reaper and survive
restarts of any process. The established names and buckets are kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingestq.core.job import DEAD_REASONS
from ingestq.core.snapshot import Snapshot

DEPTH_STATES = {"queued": "pending", "processing": "processing", "scheduled": "scheduled",
                "dlq": "dead"}
REAP_ACTIONS = ("requeue", "fail", "dlq", "poison")
OUTCOMES = ("completed", "failed", "retried", "dead", "crashed", "released")
DURATION_BUCKETS = ("0.01", "0.05", "0.1", "0.5", "1", "5", "10", "30", "60", "300", "600",
                    "1800", "+Inf")

# The *_created series would double the series count for nothing the rules or dashboard read.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream

HTTP_REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter("ingest_http_requests_total", "HTTP requests served by the service",
                        ["method", "route", "status"], registry=HTTP_REGISTRY)
UNMATCHED = "unmatched"  # route label of paths no route knows, so scanners cannot add series
# The method label takes only these values; any other method a client makes up counts as
# "other", so no request can add a series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


class RequestCounter:
    """ASGI middleware: counts every answer by method, route template and status.

    The route label is the template (``/jobs/{job_id}``), never the raw path, and the method
    one of :data:`KNOWN_METHODS` or "other", so the number of series stays bounded. An
    exception that escapes the app counts as a 500.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on and count the status it was answered with."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            method = scope["method"] if scope["method"] in KNOWN_METHODS else OTHER_METHOD
            HTTP_REQUESTS.labels(method, self._route(scope), str(status)).inc()

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:  # answered before routing (the body limit): find the template
            route = next((r for r in self.routes if r.matches(scope)[0] is not Match.NONE),
                         None)
        return str(getattr(route, "path", UNMATCHED))


class SnapshotCollector(Collector):
    """Turns one snapshot into the metric families."""

    def __init__(self, queue: str, snap: Snapshot, reaper_interval: float) -> None:
        self.queue = queue
        self.snap = snap
        self.reaper_interval = reaper_interval

    def _gauge(self, name: str, doc: str, value: float) -> GaugeMetricFamily:
        g = GaugeMetricFamily(name, doc, labels=["queue"])
        g.add_metric([self.queue], value)
        return g

    def _counter(self, name: str, doc: str, label: str, values: dict[str, float]
                 ) -> CounterMetricFamily:
        c = CounterMetricFamily(name, doc, labels=["queue", label])
        for key, value in values.items():
            c.add_metric([self.queue, key], value)
        return c

    def collect(self) -> Iterator[Metric]:
        """Every queue metric family."""
        s, q, stats = self.snap, self.queue, self.snap.stats
        depth = GaugeMetricFamily("ingest_queue_depth", "Jobs per state", labels=["queue", "state"])
        for label, state in DEPTH_STATES.items():
            depth.add_metric([q, label], s.depth[state])
        yield depth
        yield self._gauge("ingest_stale_jobs_current",
                          "Jobs whose lease expired and no reaper handled yet", s.stale)
        ages = HistogramMetricFamily("ingest_processing_age_seconds",
                                     "Age of the current attempt of each job in flight",
                                     labels=["queue"])
        ages.add_metric([q], [(f"{b:g}", c) for b, c in s.age_buckets] + [("+Inf", s.age_count)],
                        sum_value=s.age_sum)
        yield ages
        yield self._counter("ingest_jobs_reaped_total", "Expired leases handled, by action",
                            "action", {a: float(stats.get(f"reaped:{a}", 0)) for a in REAP_ACTIONS})
        yield self._counter("ingest_dead_jobs_total", "Jobs that went dead, by reason", "reason",
                            {r: float(stats.get(f"dead:{r}", 0)) for r in DEAD_REASONS})
        enq = CounterMetricFamily("ingest_jobs_enqueued_total", "Jobs enqueued", labels=["queue"])
        enq.add_metric([q], float(stats.get("enqueued", 0)))
        yield enq
        yield from self._per_kind(stats)
        yield self._gauge("ingest_oldest_pending_age_seconds",
                          "Seconds the oldest pending job has waited", s.oldest_pending_age)
        yield self._gauge("ingest_workers_alive", "Workers that beat within one lease",
                          s.workers_alive)
        yield self._gauge("ingest_reaper_last_run_timestamp_seconds",
                          "Unix time of the last reap pass (0: never)", s.reaper_last_run or 0.0)
        yield self._gauge("ingest_reaper_interval_seconds", "Configured reap interval",
                          self.reaper_interval)

    def _per_kind(self, stats: dict[str, str]) -> Iterator[Metric]:
        outcomes = CounterMetricFamily(
            "ingest_jobs_total",
            "Jobs by kind and outcome: completed, failed, crashed and released end an attempt "
            "(each attempt once); retried and dead say what a failure led to",
                                       labels=["queue", "kind", "outcome"])
        durations = HistogramMetricFamily("ingest_job_duration_seconds",
                                          "Run time of finished attempts", labels=["queue", "kind"])
        kinds = sorted({f.split(":")[1] for f in stats if f.startswith(("outcome:", "dur:"))})
        for kind in kinds:
            for outcome in OUTCOMES:
                outcomes.add_metric([self.queue, kind, outcome],
                                    float(stats.get(f"outcome:{kind}:{outcome}", 0)))
            running = 0
            buckets = []
            for le in DURATION_BUCKETS:
                running += int(stats.get(f"dur:{kind}:{le}", 0))
                buckets.append((le, float(running)))
            durations.add_metric([self.queue, kind], buckets,
                                 sum_value=float(stats.get(f"dur_ms:{kind}", 0)) / 1000.0)
        yield outcomes
        yield durations


def exposition(queue: str, snap: Snapshot, reaper_interval: float) -> bytes:
    """The /metrics body: queue metrics plus the service's own HTTP counter."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(queue, snap, reaper_interval))
    return generate_latest(registry) + generate_latest(HTTP_REGISTRY)


def start_worker_metrics_server(port: int, addr: str = "127.0.0.1") -> WSGIServer:
    """Serve this process's own metrics (CPU, memory, GC, file descriptors) on ``port``.

    Queue-wide figures come from the service's /metrics (they are read from Redis, for every
    worker at once); this endpoint is for watching one worker process, scraped by the optional
    ``ingestq-workers`` job of deploy/prometheus. It binds loopback unless an address is given
    (``0.0.0.0`` in a container that Prometheus scrapes from outside), serves from a daemon
    thread, and returns the server so a caller can ``shutdown()`` it.
    """
    server, _thread = start_http_server(port, addr=addr)
    return server
