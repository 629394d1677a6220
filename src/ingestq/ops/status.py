"""`status`: the whole queue on one screen, with the warnings an operator must act on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, cast

from redis.exceptions import RedisError

from ingestq.core import queries as reads
from ingestq.core import worker_registry as registry
from ingestq.core.connection import server_risks
from ingestq.core.events import event_count
from ingestq.core.queue import Queue

THROUGHPUT_WINDOW_SECONDS = 60.0
REAPER_SILENT_INTERVALS = 3  # a reaper silent for longer than this many intervals is missing
THROUGHPUT_TYPES = ("enqueued", "claimed", "completed", "retry_scheduled", "dead", "reaped")


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
    reaper: ReaperView
    throughput: Throughput
    counters: dict[str, float]
    warnings: list[str] = field(default_factory=list)

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


def reaper_view(queue: Queue, now: float) -> ReaperView:
    """The reaper record with its age."""
    rs = reads.reaper_status(queue)
    rc = queue.settings.queue_recovery
    since = None if rs.last_run is None else round(max(0.0, now - rs.last_run), 3)
    return ReaperView(enabled=rc.enabled, interval_seconds=rc.reaper_interval_seconds,
                      last_run=rs.last_run, seconds_since_last_run=since,
                      last_reaped=rs.last_reaped, passes=rs.passes)


def reaper_silent(view: ReaperView) -> bool:
    """True when no reaper pass was recorded within REAPER_SILENT_INTERVALS intervals."""
    limit = REAPER_SILENT_INTERVALS * view.interval_seconds
    return view.seconds_since_last_run is None or view.seconds_since_last_run > limit


def _warnings(queue: Queue, counts: dict[str, int], live: int, stale: int,
              reaper: ReaperView) -> list[str]:
    out: list[str] = []
    waiting = counts["pending"] + counts["scheduled"]
    if waiting and not live:
        out.append(f"no live worker while {waiting} job(s) wait: start one with "
                   "`ingestctl worker` (or `ingestctl up`)")
    in_flight = counts["processing"]
    if not reaper.enabled:
        out.append("the reaper is disabled (ingest.queue_recovery.enabled: false): expired "
                   "leases come back only through `ingestctl clean`")
    elif reaper_silent(reaper) and (in_flight or live):
        when = ("never ran" if reaper.seconds_since_last_run is None
                else f"last ran {reaper.seconds_since_last_run:.0f} s ago")
        out.append(f"the reaper {when} (more than {REAPER_SILENT_INTERVALS} intervals of "
                   f"{reaper.interval_seconds:g} s): run `ingestctl reaper` or workers with "
                   "ingest.worker.run_reaper: true")
    if stale:
        out.append(f"{stale} job(s) hold an expired lease and wait for a reaper "
                   "(`ingestctl clean --dry-run` lists them)")
    try:
        out.extend(server_risks(queue.client))
    except RedisError as exc:  # INFO/CONFIG refused (ACL): say so rather than fail the view
        out.append(f"could not check the server's eviction and persistence settings: {exc}")
    return out


def queue_status(queue: Queue) -> StatusReport:
    """Build the status report (a fixed number of round trips whatever the queue size)."""
    now_ms = reads.server_time_ms(queue)
    now = now_ms / 1000.0
    counts = reads.counts(queue)
    live = registry.live_workers(queue)
    stale = reads.stale_count(queue)
    reaper = reaper_view(queue, now)
    counters = {k: v for k, v in reads.stats(queue).items()
                if not k.startswith(("dur", "outcome:", "inflight_"))}
    return StatusReport(
        queue=queue.keys.queue, server_time=now, counts=counts,
        oldest_pending_age_seconds=round(reads.oldest_pending_age(queue), 3), stale=stale,
        live_workers=len(live), worker_ids=[w.id for w in live], reaper=reaper,
        throughput=throughput(queue, now_ms), counters=counters,
        warnings=_warnings(queue, counts, len(live), stale, reaper))
