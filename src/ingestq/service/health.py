"""Liveness, readiness and /metrics. When Redis is down they answer 503 with the reason, fast."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError

from ingestq.config import IngestSettings
from ingestq.core.queue import Queue
from ingestq.core.snapshot import Snapshot, take
from ingestq.mcp.settings import http_route_state
from ingestq.service import metrics

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive (says nothing about Redis)."""
    return {"status": "ok"}


def readiness(settings: IngestSettings, snap: Snapshot) -> dict[str, dict[str, Any]]:
    """Each readiness check by name: ok and why."""
    rc = settings.queue_recovery
    checks: dict[str, dict[str, Any]] = {"redis": {"ok": True, "detail": "reachable"}}
    since = None if snap.reaper_last_run is None else snap.now - snap.reaper_last_run
    if not rc.enabled:
        checks["reaper"] = {"ok": True, "detail": "disabled (queue_recovery.enabled: false)"}
    elif since is not None and since <= 3 * rc.reaper_interval_seconds:
        checks["reaper"] = {"ok": True, "detail": f"last pass {since:.1f} s ago"}
    elif snap.depth["processing"] == 0:
        checks["reaper"] = {"ok": True, "detail": "no lease to watch (nothing in flight)"}
    else:
        checks["reaper"] = {"ok": False, "detail": (
            "never ran" if since is None else f"last pass {since:.0f} s ago") +
            f", more than 3 x {rc.reaper_interval_seconds:g} s with jobs in flight"}
    waiting = snap.depth["pending"] + snap.depth["scheduled"]
    checks["workers"] = {
        "ok": snap.workers_alive > 0 or waiting == 0,
        "detail": f"{snap.workers_alive} live, {waiting} job(s) waiting"}
    # MCP over HTTP (issue 10): says whether /mcp is served; never makes the service unready.
    checks["mcp"] = {"ok": True, "detail": http_route_state(settings.service.token)[1]}
    return checks


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready when Redis answers, the reaper is on time and jobs that wait have a worker."""
    q: Queue = request.app.state.queue
    try:
        snap = take(q)
    except RedisError as exc:
        return JSONResponse({"ready": False, "error": "not ready: redis",
                             "detail": {"redis": f"unreachable: {exc}"},
                             "checks": {"redis": {"ok": False, "detail": f"unreachable: {exc}"}}},
                            status_code=503)
    checks = readiness(q.settings, snap)
    failed = [name for name, check in checks.items() if not check["ok"]]
    if not failed:
        return JSONResponse({"ready": True, "checks": checks})
    return JSONResponse({"ready": False, "error": "not ready: " + ", ".join(failed),
                         "detail": {name: checks[name]["detail"] for name in failed},
                         "checks": checks}, status_code=503)


@router.get("/metrics")
def metrics_endpoint(request: Request) -> Response:
    """Prometheus exposition; 503 with the reason when Redis cannot be read."""
    q: Queue = request.app.state.queue
    try:
        snap = take(q)
    except RedisError as exc:
        return JSONResponse({"error": "cannot read Redis", "detail": str(exc)},
                            status_code=503)
    body = metrics.exposition(q.keys.queue, snap,
                              q.settings.queue_recovery.reaper_interval_seconds)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
