"""Operator controls: pause and resume a kind, cancel a job, run a scheduled job now, and the
progress handlers report. Each is one script call (see the scripts of the same names).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from ingestq.core.job import Progress
from ingestq.core.queue import KIND_RE, Queue, check_code
from ingestq.errors import InvalidTransition, PayloadError


def _check_kind(kind: str) -> None:
    if not KIND_RE.match(kind):
        raise PayloadError(f"job kind {kind!r} is invalid: use 1-100 of A-Z a-z 0-9 _ . : -")


def pause_kind(queue: Queue, kind: str) -> bool:
    """Stop every worker claiming ``kind`` from its next claim on; False if already paused."""
    _check_kind(kind)
    k = queue.keys
    return bool(queue.call_script("pause", [k.paused, k.events],
                                  [queue.now_arg(), queue.settings.queue.events_max, kind]))


def resume_kind(queue: Queue, kind: str) -> bool:
    """Let workers claim ``kind`` again; False if it was not paused."""
    _check_kind(kind)
    k = queue.keys
    return bool(queue.call_script("resume", [k.paused, k.events, k.wake],
                                  [k.prefix, queue.now_arg(), queue.settings.queue.events_max,
                                   kind]))


def paused_kinds(queue: Queue) -> list[str]:
    """The kinds no worker claims right now."""
    return sorted(cast(set[str], queue.client.smembers(queue.keys.paused)))


def cancel_job(queue: Queue, job_id: str) -> str:
    """Cancel a job: dead with reason ``cancelled``; returns the state it was in.

    Raises JobNotFound, or InvalidTransition when it is already done or dead.
    """
    k = queue.keys
    s = queue.settings
    code, was = queue.call_script(
        "cancel", [k.scheduled, k.processing, k.dead, k.dedupe, k.stats, k.events, k.cancelled,
         k.claimed],
        [k.prefix, queue.now_arg(), s.queue.events_max, job_id, s.queue.error_history])
    if int(code) == -3:
        raise InvalidTransition(f"job {job_id} is already {was}: nothing to cancel")
    check_code(int(code), job_id)
    return str(was)


def cancelled_among(queue: Queue, leases: Sequence[tuple[str, str]]) -> set[str]:
    """Ids of these (id, token) attempts that an operator cancelled (one round trip)."""
    if not leases:
        return set()
    scores = queue.client.zmscore(queue.keys.cancelled, [f"{i}:{t}" for i, t in leases])
    return {job_id for (job_id, _), score in zip(leases, scores, strict=True)
            if score is not None}


def run_now(queue: Queue, job_id: str) -> None:
    """Make a scheduled job due now. Raises JobNotFound or InvalidTransition (not scheduled)."""
    k = queue.keys
    code = int(queue.call_script("run_now", [k.scheduled, k.events, k.wake],
                                 [k.prefix, queue.now_arg(), queue.settings.queue.events_max,
                                  job_id]))
    check_code(code, job_id)


def report_progress(queue: Queue, reports: Sequence[tuple[str, str, Progress]]) -> list[int]:
    """Record progress for running attempts (id, token, progress); one code per report."""
    if not reports:
        return []
    k = queue.keys
    args: list[Any] = [k.prefix, queue.now_arg(), queue.settings.queue.events_max]
    for job_id, token, p in reports:
        args.extend((job_id, token, f"{p.done:g}", f"{p.total:g}", p.note or ""))
    return [int(c) for c in queue.call_script("progress", [k.events], args)]
