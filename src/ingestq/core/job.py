"""The job record as stored in Redis, decoded strictly."""

from __future__ import annotations

import json
import re
import traceback as tb
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict


class JobState(StrEnum):
    """Every job is in exactly one of these states."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    DONE = "done"
    DEAD = "dead"


TERMINAL = frozenset({JobState.DONE, JobState.DEAD})

DEAD_REASONS = ("permanent", "retries_exhausted", "poison", "stale", "cancelled")
REAP_ACTIONS = ("requeue", "fail", "dlq", "poison")  # what a reap pass did with an expired lease

ERROR_TEXT_MAX = 2000  # characters of a message, and of a traceback's tail, kept per entry


class _ErrorFields(TypedDict):
    type: str
    message: str
    traceback: str
    reason: str


class ErrorEntry(_ErrorFields, total=False):
    """One failed attempt as ``fail.lua`` takes it (ARGV[7]); the script adds attempt, worker
    and at before appending it to the job's ``errors``."""

    exit_code: int | None  # a crashed child process's exit code (negative: the signal)


def error_entry(type_name: str, message: str, reason: str, *, traceback: str = "",
                exit_code: int | None = None) -> ErrorEntry:
    """The one builder of error history entries (message and traceback tail bounded)."""
    entry = ErrorEntry(type=type_name, message=message[:ERROR_TEXT_MAX],
                       traceback=traceback[-ERROR_TEXT_MAX:], reason=reason)
    if exit_code is not None:
        entry["exit_code"] = exit_code
    return entry


def exception_entry(exc: BaseException, reason: str) -> ErrorEntry:
    """The entry for an exception: its type, message and the tail of its traceback."""
    text = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
    return error_entry(type(exc).__name__, str(exc), reason, traceback=text)


def _ms(value: str | None) -> float | None:
    return int(value) / 1000.0 if value not in (None, "") else None


# A JSON \u escape of a UTF-16 surrogate: legal JSON text, but alone it decodes to a string no
# UTF-8 encoder (HTTP response, terminal) accepts.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _json(text: str) -> Any:
    """Decode stored JSON, refusing a lone surrogate (the record could not be shown anywhere)."""
    value = json.loads(text)
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("holds a lone UTF-16 surrogate") from None
    return value


def _progress(h: dict[str, str]) -> dict[str, Any] | None:
    if not h.get("progress_at"):
        return None
    return {"done": float(h.get("progress_done") or 0),
            "total": float(h.get("progress_total") or 0),
            "note": h.get("progress_note") or None, "at": _ms(h["progress_at"])}


@dataclass(frozen=True)
class Job:
    """One job record. Times are Unix seconds (server clock); None when not reached yet."""

    id: str
    kind: str
    payload: dict[str, Any]
    state: JobState
    attempts: int
    failures: int
    crash_recoveries: int
    max_retries: int
    token: int
    enqueued_at: float | None
    started_at: float | None = None
    claimed_at: float | None = None
    requeued_at: float | None = None
    failed_at: float | None = None
    finished_at: float | None = None
    lease_until: float | None = None
    due_at: float | None = None
    worker: str | None = None
    last_error: str | None = None
    dead_reason: str | None = None
    dedupe_key: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    result: Any = None  # what the handler returned (JSON), for done jobs
    progress: dict[str, Any] | None = None  # last report: done, total, note, at (Unix seconds)

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> Job:
        """Decode a job hash; raises ValueError when a required field is missing or malformed."""
        errors = _json(h["errors"]) if h.get("errors") else []
        return cls(
            id=h["id"], kind=h["kind"], payload=_json(h["payload"]),
            state=JobState(h["state"]), attempts=int(h["attempts"]),
            failures=int(h.get("failures", "0")),
            crash_recoveries=int(h["crash_recoveries"]), max_retries=int(h["max_retries"]),
            token=int(h["token"]), enqueued_at=_ms(h.get("enqueued_at")),
            started_at=_ms(h.get("started_at")), claimed_at=_ms(h.get("claimed_at")),
            requeued_at=_ms(h.get("requeued_at")), failed_at=_ms(h.get("failed_at")),
            finished_at=_ms(h.get("finished_at")), lease_until=_ms(h.get("lease_until")),
            due_at=_ms(h.get("due_at")), worker=h.get("worker") or None,
            last_error=h.get("last_error") or None, dead_reason=h.get("dead_reason") or None,
            dedupe_key=h.get("dedupe_key") or None,
            errors=errors if isinstance(errors, list) else [],
            result=_json(h["result"]) if h.get("result") else None,
            progress=_progress(h),
        )

    def age_anchor(self) -> float | None:
        """The moment a job's age counts from: the one age rule of `jobs list` (its Age column
        and ``--older-than``), `dead list` and `clean`.

        Enqueue for pending and scheduled jobs (a requeue does not make a job younger), the
        current attempt's claim for processing ones, the end for done and dead ones.
        """
        if self.state is JobState.PROCESSING:
            return self.claimed_at
        if self.state in (JobState.DONE, JobState.DEAD):
            return self.finished_at
        return self.enqueued_at

    def age(self, now: float) -> float | None:
        """Seconds since :meth:`age_anchor` (None when the record lacks that time)."""
        anchor = self.age_anchor()
        return None if anchor is None else max(0.0, now - anchor)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the documented shape of `jobs show --json`)."""
        out = dict(self.__dict__)
        out["state"] = self.state.value
        return out


@dataclass(frozen=True)
class Progress:
    """How far a handler says its attempt has come (``JobContext.progress``)."""

    done: float
    total: float
    note: str | None = None


@dataclass(frozen=True)
class Claimed:
    """A job handed to a worker: the fencing token proves which attempt holds the lease."""

    id: str
    token: str
    kind: str
    payload: dict[str, Any]
    attempt: int
    failures: int
    crash_recoveries: int
    enqueued_at: float
