"""Operator controls over HTTP: pause and resume a kind, cancel a job, run a scheduled job now.

Every route here changes state, so every one needs the bearer token (see ``guards``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ingestq.core.controls import cancel_job, pause_kind, resume_kind, run_now
from ingestq.core.queue import Queue
from ingestq.service.guards import require_token

router = APIRouter(dependencies=[Depends(require_token)])


def _queue(request: Request) -> Queue:
    q: Queue = request.app.state.queue
    return q


@router.post("/kinds/{kind}/pause")
def pause(kind: str, request: Request) -> dict[str, Any]:
    """Stop every worker claiming this kind (running jobs finish)."""
    return {"kind": kind, "paused": True, "changed": pause_kind(_queue(request), kind)}


@router.post("/kinds/{kind}/resume")
def resume(kind: str, request: Request) -> dict[str, Any]:
    """Let workers claim this kind again."""
    return {"kind": kind, "paused": False, "changed": resume_kind(_queue(request), kind)}


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: str, request: Request) -> dict[str, Any]:
    """Cancel a job: dead with reason cancelled; a running one is stopped by its worker.

    404 when it does not exist, 409 when it already ended.
    """
    return {"id": job_id, "cancelled": True, "was": cancel_job(_queue(request), job_id)}


@router.post("/jobs/{job_id}/run-now")
def run_now_route(job_id: str, request: Request) -> dict[str, Any]:
    """Make a scheduled job due now (404 unknown, 409 not scheduled)."""
    run_now(_queue(request), job_id)
    return {"id": job_id, "due": "now"}
