"""The operator dashboard at ``/ui``: static files shipped in the package, and the JSON reads
behind its views (under ``/ui/api``). Actions use the token-protected API routes.

Safety: reading needs nothing beyond reaching the service on loopback (the default bind); beyond
loopback the views that show jobs need the token as well (``service.read_auth``). The page asks
for the token once, keeps it in sessionStorage and sends it as ``Authorization: Bearer``, never
in a URL; no cookie carries it, so a cross-site page cannot make the browser act (it cannot set
that header without CORS, which the service does not grant). The page builds every element with
``textContent``, and the Content-Security-Policy below forbids inline scripts, so a job's
payload or error cannot run as code even if a bug slipped through.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from ingestq.config import is_loopback
from ingestq.core import queries
from ingestq.core.job import JobState
from ingestq.core.queue import Queue
from ingestq.errors import JobNotFound
from ingestq.ops.dead import DeadFilter, select_dead
from ingestq.service import ui_data
from ingestq.service.guards import require_read_token, require_token

router = APIRouter(include_in_schema=False)

FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
         "app.css": "text/css; charset=utf-8"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@cache
def _file(name: str) -> bytes:
    return (resources.files("ingestq.service") / "static" / name).read_bytes()


def _static(name: str) -> Response:
    return Response(_file(name), media_type=FILES[name], headers=HEADERS)


@router.get("/ui")
def page() -> Response:
    """The dashboard (one page; views are chosen by the URL fragment)."""
    return _static("index.html")


@router.get("/ui/app.js")
def script() -> Response:
    """The dashboard's script."""
    return _static("app.js")


@router.get("/ui/app.css")
def style() -> Response:
    """The dashboard's style sheet."""
    return _static("app.css")


def _queue(request: Request) -> Queue:
    q: Queue = request.app.state.queue
    return q


@router.get("/ui/api/session")
def session(request: Request) -> dict[str, Any]:
    """Whether actions are possible at all (without a configured token the page is read-only),
    and whether reading needs the token too (``service.read_auth``, beyond loopback)."""
    service = request.app.state.settings.service
    reads = service.read_auth == "token" or (
        service.read_auth == "auto" and not is_loopback(request.app.state.bind_host))
    if service.token:
        return {"actions": True, "reason": None, "reads_need_token": reads}
    return {"actions": False, "reads_need_token": reads,
            "reason": "no service token is configured (ingest.service.token or "
                      "INGESTQ_SERVICE_TOKEN), so every action is refused: this page is "
                      "read-only"}


@router.post("/ui/api/token", status_code=204, dependencies=[Depends(require_token)])
def check_token() -> Response:
    """204 when the bearer token is right (the page checks it once, when it is entered)."""
    return Response(status_code=204)


@router.get("/ui/api/overview", dependencies=[Depends(require_read_token)])
def overview(request: Request) -> dict[str, Any]:
    """Everything the overview shows, in a fixed number of round trips."""
    return ui_data.overview(_queue(request))


@router.get("/ui/api/workers", dependencies=[Depends(require_read_token)])
def workers(request: Request) -> dict[str, Any]:
    """Live workers with the jobs each holds."""
    return {"workers": ui_data.workers(_queue(request))}


@router.get("/ui/api/jobs", dependencies=[Depends(require_read_token)])
def jobs(request: Request, state: JobState = JobState.PENDING, kind: str | None = None,
         reason: str | None = None, older_than: float | None = Query(None, ge=0),
         page: int = Query(0, ge=0), size: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    """One page of jobs in a state, filtered by kind, dead reason and age."""
    return ui_data.job_page(_queue(request), state, kind=kind or None, reason=reason or None,
                            older_than=older_than, page=page, size=size)


@router.get("/ui/api/jobs/{job_id}", dependencies=[Depends(require_read_token)])
def job(job_id: str, request: Request) -> dict[str, Any]:
    """One job in full, with its lifecycle events."""
    q = _queue(request)
    try:
        record = queries.get_job(q, job_id)
    except JobNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return {"job": record.to_dict(), "events": ui_data.timeline(q, record),
            "now": queries.server_time_ms(q) / 1000.0}


@router.get("/ui/api/dead/count", dependencies=[Depends(require_read_token)])
def dead_count(request: Request, kind: str | None = None, reason: str | None = None,
               older_than: float | None = Query(None, ge=0)) -> dict[str, Any]:
    """How many dead jobs a filter selects (what a retry or purge by filter would touch)."""
    selection = DeadFilter(all=not (kind or reason or older_than is not None), kind=kind or None,
                           reason=reason or None, older_than=older_than)
    return {"count": len(select_dead(_queue(request), selection))}
