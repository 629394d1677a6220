"""The job record as stored in Redis, decoded strictly."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    """Every job is in exactly one of these states."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    DONE = "done"
    DEAD = "dead"


ACTIVE = frozenset({JobState.PENDING, JobState.SCHEDULED, JobState.PROCESSING})
TERMINAL = frozenset({JobState.DONE, JobState.DEAD})

DEAD_REASONS = ("permanent", "retries_exhausted", "poison", "stale")


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
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the documented shape of `jobs show --json`)."""
        out = dict(self.__dict__)
        out["state"] = self.state.value
        return out


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
