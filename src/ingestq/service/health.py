"""Liveness, readiness and /metrics. When Redis is down they answer 503 with the reason, fast.

Readiness is Redis only; what needs attention (workers, reaper, stale leases, unserved kinds)
comes from :mod:`ingestq.ops.health` and is reported, not enforced, here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError

from ingestq.config import IngestSettings
from ingestq.core.queue import Queue
from ingestq.core.settings import CoreSettings
from ingestq.core.snapshot import Snapshot, take
from ingestq.mcp.settings import http_route_state
from ingestq.ops import health
from ingestq.service import metrics, ui_data

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive (says nothing about Redis)."""
    return {"status": "ok"}


def readiness_details(settings: CoreSettings, snap: Snapshot) -> dict[str, dict[str, Any]]:
    """Redis, then each health rule by name: ok and why. Only ``redis`` decides readiness; the
    rest is for the operator reading the probe (and the alert rules read /metrics)."""
    checks: dict[str, dict[str, Any]] = {"redis": {"ok": True, "detail": "reachable"}}
    for finding in health.assess(snap, settings.queue_recovery):
        checks[finding.name] = {"ok": finding.ok, "detail": finding.detail}
    # MCP over HTTP (issue 10): says whether /mcp is served; never makes the service unready.
    token = IngestSettings.extending(settings).service.token
    checks["mcp"] = {"ok": True, "detail": http_route_state(token)[1]}
    return checks


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready when Redis answers. A worker outage or a late reaper is reported in ``checks`` and
    ``attention`` but keeps the service ready: its API and /metrics are what operators need then.
    """
    q: Queue = request.app.state.queue
    try:
        snap = take(q)
    except RedisError as exc:
        return JSONResponse({"ready": False, "error": "not ready: redis",
                             "detail": {"redis": f"unreachable: {exc}"},
                             "checks": {"redis": {"ok": False, "detail": f"unreachable: {exc}"}},
                             "attention": ["redis"]},
                            status_code=503)
    checks = readiness_details(q.settings, snap)
    attention = [name for name, check in checks.items() if not check["ok"]]
    return JSONResponse({"ready": True, "checks": checks, "attention": attention})


@router.get("/metrics")
def metrics_endpoint(request: Request) -> Response:
    """Prometheus exposition; 503 with the reason when Redis cannot be read."""
    q: Queue = request.app.state.queue
    try:
        snap = take(q)
    except RedisError as exc:
        return JSONResponse({"error": "cannot read Redis", "detail": str(exc)},
                            status_code=503)
    ui_data.sample_minute(q, snap)  # scrapes keep the dashboard's per-minute chart going
    body = metrics.exposition(q.keys.queue, snap,
                              q.settings.queue_recovery.reaper_interval_seconds)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
