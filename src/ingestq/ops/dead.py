"""Dead letters: select them by id or by filter, retry them, purge them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ingestq.core import queries
from ingestq.core.job import DEAD_REASONS, JobState
from ingestq.core.queue import Queue

ALL = 10**9  # "no limit" for filter selections: list_jobs pages through the dead set


class SelectionError(ValueError):
    """A dead-letter selection that is empty or contradictory (a usage error)."""


@dataclass(frozen=True)
class DeadFilter:
    """Which dead jobs an operation applies to: explicit ids, every one, or a filter."""

    ids: tuple[str, ...] = ()
    all: bool = False
    kind: str | None = None
    reason: str | None = None
    older_than: float | None = None
    limit: int | None = None

    @property
    def by_filter(self) -> bool:
        """True when the selection comes from --all or a filter rather than named ids."""
        return not self.ids

    def check(self) -> None:
        """Refuse an empty selection (acting on every dead job must be asked for with --all)
        and an unknown reason (it would match nothing, silently)."""
        check_reason(self.reason)
        filtered = any(v is not None for v in (self.kind, self.reason, self.older_than))
        if self.ids and (self.all or filtered):
            raise SelectionError("name job ids, or use --all / filters, not both")
        if not self.ids and not self.all and not filtered:
            raise SelectionError("nothing selected: name job ids, use --all, or filter with "
                               "--kind / --reason / --older-than")


def check_reason(reason: str | None) -> None:
    """Raise SelectionError naming the valid reasons when ``reason`` is not one of them."""
    if reason is not None and reason not in DEAD_REASONS:
        raise SelectionError(f"--reason {reason!r} is not a dead reason; valid: "
                             f"{', '.join(DEAD_REASONS)}")


def select_dead(queue: Queue, selection: DeadFilter) -> list[str]:
    """The ids a dead-letter operation acts on (named ids are passed through unchecked)."""
    selection.check()
    if selection.ids:
        return list(dict.fromkeys(selection.ids))
    jobs = queries.list_jobs(queue, JobState.DEAD, kind=selection.kind, reason=selection.reason,
                             older_than=selection.older_than,
                             limit=selection.limit if selection.limit is not None else ALL)
    return [j.id for j in jobs]


@dataclass
class DeadOutcome:
    """Per-id results of a retry or purge."""

    done: list[str] = field(default_factory=list)  # retried or purged
    not_found: list[str] = field(default_factory=list)
    not_dead: list[str] = field(default_factory=list)  # left as they are

    @property
    def ok(self) -> bool:
        """True when every selected id was acted on."""
        return not self.not_found and not self.not_dead

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self) | {"count": len(self.done)}


def _sort(ids: Sequence[str], codes: Sequence[int]) -> DeadOutcome:
    out = DeadOutcome()
    for job_id, code in zip(ids, codes, strict=True):
        {1: out.done, -1: out.not_found}.get(code, out.not_dead).append(job_id)
    return out


def retry_dead(queue: Queue, ids: Sequence[str]) -> DeadOutcome:
    """Send dead jobs back to pending with their budgets reset."""
    return _sort(ids, queue.dead_retry(ids))


def purge_dead(queue: Queue, ids: Sequence[str]) -> DeadOutcome:
    """Delete dead jobs for good."""
    return _sort(ids, queue.dead_purge(ids))
