"""`status`: the whole queue on one screen, with the warnings an operator must act on.

Figures come from one :func:`ingestq.core.snapshot.take`, warnings from
:mod:`ingestq.ops.health` (the rules `doctor`, `/readyz` and `/metrics` share), throughput
from the events stream.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, cast

from redis.exceptions import RedisError

from ingestq.core.connection import server_risks
from ingestq.core.events import event_count
from ingestq.core.job import DEAD_REASONS, REAP_ACTIONS
from ingestq.core.queue import Queue
from ingestq.core.snapshot import Snapshot, take
from ingestq.ops import health

THROUGHPUT_WINDOW_SECONDS = 60.0
THROUGHPUT_TYPES = ("enqueued", "claimed", "completed", "retry_scheduled", "dead", "reaped")
# Every shared counter status shows, present even while still zero (docs/architecture.md,
# "Counters"); the per-kind outcome and duration fields are /metrics' business.
COUNTERS = ("enqueued", "deduped", "claimed", "completed", "failed", "retried", "released",
            "crashed", "dead", "dead_retried", "purged", "trimmed",
            *(f"dead:{r}" for r in DEAD_REASONS), *(f"reaped:{a}" for a in REAP_ACTIONS))


@dataclass(frozen=True)
class Throughput:
    """Lifecycle events per type over the recent window, read from the events stream.

    ``window_seconds`` is the span actually covered: shorter than asked when the capped stream
    has already dropped older events (then the per-minute rates are extrapolated from it).
    """

    window_seconds: float
    events: dict[str, int]
    completed_per_minute: float
    failed_per_minute: float  # retry_scheduled + dead: attempts that did not succeed


@dataclass(frozen=True)
class ReaperView:
    """What the shared reaper record says, seen from now."""

    enabled: bool
    interval_seconds: float
    last_run: float | None
    seconds_since_last_run: float | None
    last_reaped: int
    passes: int


@dataclass(frozen=True)
class StatusReport:
    """Everything `ingestctl status` shows (documented shape of `status --json`)."""

    queue: str
    server_time: float
    counts: dict[str, int]
    oldest_pending_age_seconds: float
    stale: int
    live_workers: int
    worker_ids: list[str]
    unserved_pending: dict[str, int]  # kind -> pending jobs no live worker takes
    stuck_slots: int
    reaper: ReaperView
    throughput: Throughput
    counters: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    paused_kinds: list[str] = field(default_factory=list)  # kinds no worker claims now

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def throughput(queue: Queue, now_ms: int,
               window_seconds: float = THROUGHPUT_WINDOW_SECONDS) -> Throughput:
    """Count recent lifecycle events by type (one XRANGE, bounded by the stream's cap).

    Stream entry ids are the server's wall-clock milliseconds, so the window is cut on the id.
    """
    start = now_ms - int(window_seconds * 1000)
    entries = cast(list[tuple[str, dict[str, str]]], queue.client.xrange(
        queue.keys.events, min=f"{start}-0", max="+", count=queue.settings.queue.events_max))
    by_type: dict[str, int] = dict.fromkeys(THROUGHPUT_TYPES, 0)
    for _, fields in entries:
        typ = fields.get("type", "")
        if typ in by_type:
            by_type[typ] += event_count(fields)  # a claim or ack batch is one entry
    covered = window_seconds
    if int(queue.client.xlen(queue.keys.events)) >= queue.settings.queue.events_max:
        first = cast(list[tuple[str, dict[str, str]]],
                     queue.client.xrange(queue.keys.events, count=1))
        first_ms = int(first[0][0].split("-")[0]) if first else start
        if first_ms > start:
            # the cap trimmed part of the window: rates come from the part that is left
            covered = max(1.0, (now_ms - first_ms) / 1000.0)
    per_min = 60.0 / covered
    return Throughput(
        window_seconds=round(covered, 3), events=by_type,
        completed_per_minute=round(by_type["completed"] * per_min, 2),
        failed_per_minute=round((by_type["retry_scheduled"] + by_type["dead"]) * per_min, 2))


def reaper_view(queue: Queue, snap: Snapshot) -> ReaperView:
    """The reaper record with its age."""
    rc = queue.settings.queue_recovery
    return ReaperView(enabled=rc.enabled, interval_seconds=rc.reaper_interval_seconds,
                      last_run=snap.reaper.last_run,
                      seconds_since_last_run=health.reaper_since(snap),
                      last_reaped=snap.reaper.last_reaped, passes=snap.reaper.passes)


def _warnings(queue: Queue, snap: Snapshot) -> list[str]:
    out = [f.warning() for f in health.assess(snap, queue.settings.queue_recovery) if not f.ok]
    try:
        out.extend(server_risks(queue.client))
    except RedisError as exc:  # INFO/CONFIG refused (ACL): say so rather than fail the view
        out.append(f"could not check the server's eviction and persistence settings: {exc}")
    return out


def warnings_for(queue: Queue, snap: Snapshot) -> list[str]:
    """The warnings `status` prints (the dashboard shows the same)."""
    out = _warnings(queue, snap)
    if snap.paused:
        out.append(f"paused (no worker claims them until `ingestctl resume KIND`): "
                   f"{', '.join(snap.paused)}")
    return out


def queue_status(queue: Queue) -> StatusReport:
    """Build the status report (a fixed number of round trips whatever the queue size)."""
    snap = take(queue)
    counters = {name: int(float(snap.stats.get(name, 0))) for name in COUNTERS}
    return StatusReport(
        queue=queue.keys.queue, server_time=snap.now, counts=dict(snap.depth),
        oldest_pending_age_seconds=round(snap.oldest_pending_age, 3), stale=snap.stale,
        live_workers=snap.workers_alive, worker_ids=[w.id for w in snap.workers],
        unserved_pending=health.unserved(snap), stuck_slots=snap.stuck_slots,
        reaper=reaper_view(queue, snap), throughput=throughput(queue, int(snap.now * 1000)),
        counters=counters, warnings=warnings_for(queue, snap), paused_kinds=snap.paused)
