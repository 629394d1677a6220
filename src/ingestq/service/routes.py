"""Job, dead-letter and ingestion routes. Each calls one library function."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ingestq.core import queries
from ingestq.core.job import Job, JobState
from ingestq.core.queue import MAX_DELAY_SECONDS, MAX_RETRIES, JobSpec, Queue
from ingestq.core.snapshot import unserved_kinds
from ingestq.errors import BadRecord, JobNotFound
from ingestq.ops.dead import DeadFilter, SelectionError, purge_dead, retry_dead, select_dead
from ingestq.service.guards import require_read_token, require_token
from ingestq.tracing import enqueue_span

router = APIRouter()

# What one POST /jobs may store: count x (payload + a record's own fields). 8 MiB is thousands
# of ordinary jobs, and small enough to build, send as one all-or-nothing script call, and hold.
MAX_REQUEST_JOB_BYTES = 8 * 1024 * 1024
JOB_OVERHEAD_BYTES = 256  # a record's fields besides the payload, and its index entries


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewJob(_Body):
    """A job to enqueue."""

    kind: str = Field(..., examples=["sleep"])
    payload: dict[str, Any] = Field(default_factory=dict, examples=[{"seconds": 1}])
    dedupe_key: str | None = None
    max_retries: int | None = Field(None, ge=0, le=MAX_RETRIES)  # None: queue_recovery's
    delay_seconds: float = Field(0.0, ge=0, le=MAX_DELAY_SECONDS, allow_inf_nan=False)
    count: int = Field(1, ge=1, le=10_000)


class DeadSelection(_Body):
    """Dead jobs to act on: explicit ids, everything, or a filter."""

    ids: list[str] = []
    all: bool = False
    kind: str | None = None
    reason: str | None = None
    older_than: float | None = Field(None, ge=0)


class IngestRequest(_Body):
    """Files or folders to ingest; each must lie inside ``ingest.pipeline.roots``."""

    paths: list[str] = Field(..., min_length=1, max_length=1000)
    glob: str | None = None
    force: bool = False
    # Labels for these files, each overriding their root's (ingest.pipeline.roots).
    collection: str | None = None
    version: str | None = None

    @field_validator("collection", "version")
    @classmethod
    def _label(cls, value: str | None, info: ValidationInfo) -> str | None:
        from ingestq.ingest.parsing.identity import check_label

        return None if value is None else check_label(str(info.field_name), value)

    @field_validator("paths")
    @classmethod
    def _no_nul(cls, paths: list[str]) -> list[str]:
        # The OS cannot name such a path; refused here (422), not as a 500 from os.path.
        if any("\x00" in p for p in paths):
            raise ValueError("a path contains a NUL byte")
        return paths

    @field_validator("glob")
    @classmethod
    def _relative_glob(cls, glob: str | None) -> str | None:
        # The pattern applies inside the named folders: an absolute one or one climbing out
        # with '..' could only name files outside them.
        if glob is not None and ("\x00" in glob or glob.startswith("/")
                                 or ".." in PurePosixPath(glob).parts):
            raise ValueError("glob must be a relative pattern without '..' or NUL bytes, "
                             "e.g. '*.md' or 'guide/**/*.md'")
        return glob


def queue_of(request: Request) -> Queue:
    """The service's queue."""
    q: Queue = request.app.state.queue
    return q


@router.post("/jobs", status_code=201, dependencies=[Depends(require_token)])
def create_jobs(body: NewJob, request: Request, response: Response) -> dict[str, Any]:
    """Enqueue ``count`` jobs, all or none; a dedupe key returns the live job instead of a copy.

    ``count`` x payload is bounded (:data:`MAX_REQUEST_JOB_BYTES`), so one small request cannot
    make the service or Redis hold gigabytes. When no live worker takes the kind, the jobs are
    still accepted (one may start later) and the ``X-Ingestq-Warning`` header says so.
    """
    q = queue_of(request)
    with enqueue_span(body.kind, request.headers) as carry:
        payload = {**body.payload, **carry}
        total = body.count * (len(q.encode_payload(payload)) + JOB_OVERHEAD_BYTES)
        if total > MAX_REQUEST_JOB_BYTES:
            raise HTTPException(413, f"count x payload is {total} bytes, over the limit of "
                                     f"{MAX_REQUEST_JOB_BYTES} bytes per request: send fewer "
                                     "copies or a smaller payload")
        spec = JobSpec(body.kind, payload, body.dedupe_key, body.max_retries,
                       body.delay_seconds)
        results = q.enqueue_many([spec] * body.count, atomic=True)
    if unserved_kinds(q, [body.kind]):
        response.headers["X-Ingestq-Warning"] = (
            f"no live worker takes kind {body.kind!r}: the job waits until one does")
    jobs = [{"id": r.id, "created": r.created} for r in results]
    return jobs[0] if body.count == 1 else {"jobs": jobs}


@router.get("/jobs/{job_id}", dependencies=[Depends(require_read_token)])
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    """One job record with its error history."""
    try:
        return queries.get_job(queue_of(request), job_id).to_dict()
    except JobNotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/jobs", dependencies=[Depends(require_read_token)])
def list_jobs(request: Request, state: JobState = JobState.PENDING, kind: str | None = None,
              older_than: float | None = Query(None, ge=0),
              limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Jobs in one state, oldest first."""
    bad: list[BadRecord] = []
    jobs = queries.list_jobs(queue_of(request), state, kind=kind, older_than=older_than,
                             limit=limit, unreadable=bad)
    return _listing(jobs, bad)


@router.get("/dead", dependencies=[Depends(require_read_token)])
def list_dead(request: Request, kind: str | None = None, reason: str | None = None,
              older_than: float | None = Query(None, ge=0),
              limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Dead jobs, filtered by kind, reason and age."""
    bad: list[BadRecord] = []
    jobs = queries.list_jobs(queue_of(request), JobState.DEAD, kind=kind, reason=reason,
                             older_than=older_than, limit=limit, unreadable=bad)
    return _listing(jobs, bad)


def _listing(jobs: list[Job], bad: list[BadRecord]) -> dict[str, Any]:
    # Records that cannot be decoded are named beside the list, never allowed to break it.
    out: dict[str, Any] = {"jobs": [j.to_dict() for j in jobs]}
    if bad:
        out["unreadable"] = [{"id": b.job_id, "error": b.reason} for b in bad]
    return out


def _selected(q: Queue, body: DeadSelection) -> list[str]:
    selection = DeadFilter(ids=tuple(body.ids), all=body.all, kind=body.kind,
                           reason=body.reason, older_than=body.older_than)
    try:
        return select_dead(q, selection)
    except SelectionError as exc:
        raise HTTPException(422, str(exc)) from None


@router.post("/dead/retry", dependencies=[Depends(require_token)])
def dead_retry(body: DeadSelection, request: Request) -> dict[str, Any]:
    """Give dead jobs a fresh start (budgets reset)."""
    q = queue_of(request)
    return retry_dead(q, _selected(q, body)).to_dict()


@router.post("/dead/purge", dependencies=[Depends(require_token)])
def dead_purge(body: DeadSelection, request: Request) -> dict[str, Any]:
    """Delete dead jobs for good."""
    q = queue_of(request)
    return purge_dead(q, _selected(q, body)).to_dict()


@router.post("/ingest", status_code=202, dependencies=[Depends(require_token)])
def ingest(body: IngestRequest, request: Request) -> dict[str, Any]:
    """Enqueue file jobs for paths inside the configured roots."""
    from ingestq.ingest.submit import OutsideRoots, as_dicts, submit_paths

    try:
        done = submit_paths(queue_of(request), request.app.state.settings.pipeline,
                            body.paths, glob=body.glob, force=body.force,
                            collection=body.collection, version=body.version,
                            headers=request.headers, what="POST /ingest")
    except OutsideRoots as exc:
        raise HTTPException(403, str(exc)) from None
    return {"files": len(done.files), "missing": done.missing, "jobs": as_dicts(done)}
