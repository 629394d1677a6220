"""The health rules: what in a :class:`~ingestq.core.snapshot.Snapshot` needs attention.

One definition of "workers missing", "reaper late", "stale leases", "pending of kinds no live
worker takes" and "stuck handler slots", used by `status` (its warnings), `doctor` (its checks),
`/readyz` (its details) and `/metrics` (the gauges the alert rules read). None of them decides the
service's readiness, which depends on Redis only: a worker outage must not take the service out of
its load balancer, which is exactly when operators need its API.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestq.core.settings import QueueRecovery
from ingestq.core.snapshot import Snapshot

# A reaper silent for longer than this many intervals is missing (the ReaperLate alert uses the
# same factor: ReaperStalled in deploy/prometheus/alerts.yml).
REAPER_SILENT_INTERVALS = 3


@dataclass(frozen=True)
class Finding:
    """One rule's verdict: ``ok`` False needs attention and ``fix`` says what to do."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def warning(self) -> str:
        """The one-line form `status` prints."""
        return self.detail + (f": {self.fix}" if self.fix else "")


def assess(snap: Snapshot, recovery: QueueRecovery) -> list[Finding]:
    """Every rule, in a fixed order (workers, reaper, stale, kinds, stuck slots)."""
    return [workers(snap), reaper(snap, recovery), stale(snap), kinds(snap), stuck(snap)]


def waiting(snap: Snapshot) -> int:
    """Jobs that need a worker: pending now or scheduled for later."""
    return snap.depth["pending"] + snap.depth["scheduled"]


def workers(snap: Snapshot) -> Finding:
    """Workers missing: jobs wait and no worker is alive."""
    n, wait, busy = snap.workers_alive, waiting(snap), snap.depth["processing"]
    if n or not wait:
        return Finding("workers", True, f"{n} live, {wait} job(s) waiting, {busy} in flight")
    return Finding("workers", False, f"no live worker while {wait} job(s) wait",
                   "start one with `ingestctl worker` (or `ingestctl up`)")


def reaper_since(snap: Snapshot) -> float | None:
    """Seconds since the last reap pass, None when no reaper ever ran."""
    last = snap.reaper.last_run
    return None if last is None else round(max(0.0, snap.now - last), 3)


def reaper(snap: Snapshot, recovery: QueueRecovery) -> Finding:
    """Reaper late: silent for more than REAPER_SILENT_INTERVALS intervals while a lease could
    expire (jobs in flight, or workers alive that may crash); or disabled."""
    interval = recovery.reaper_interval_seconds
    since = reaper_since(snap)
    last = ("never ran" if since is None
            else f"last pass {since:.1f} s ago, reaped {snap.reaper.last_reaped}")
    if not recovery.enabled:
        return Finding("reaper", False, "the reaper is disabled (ingest.queue_recovery.enabled: "
                       "false): expired leases come back only through `ingestctl clean`",
                       "enable it, or recover expired leases by hand with `ingestctl clean`")
    exposed = snap.depth["processing"] or snap.workers_alive
    if exposed and (since is None or since > REAPER_SILENT_INTERVALS * interval):
        return Finding("reaper", False, f"the reaper {last}: silent for more than "
                       f"{REAPER_SILENT_INTERVALS} intervals of {interval:g} s while work is in "
                       "flight", "run `ingestctl reaper`, or workers with "
                       "ingest.worker.run_reaper: true")
    return Finding("reaper", True, last + ("" if exposed else " (nothing in flight to recover)"))


def stale(snap: Snapshot) -> Finding:
    """Stale leases: expired and not yet handed back by a reaper."""
    if not snap.stale:
        return Finding("stale leases", True, "none")
    return Finding("stale leases", False,
                   f"{snap.stale} job(s) hold an expired lease and wait for a reaper",
                   "`ingestctl clean --dry-run` lists them; a running reaper recovers them")


def unserved(snap: Snapshot) -> dict[str, int]:
    """Pending jobs by kind that no live worker takes. Empty with no live worker at all: that
    is the workers rule's finding (and the NoLiveWorkers alert's), so it is not counted twice."""
    return snap.unserved_pending() if snap.workers_alive else {}


def kinds(snap: Snapshot) -> Finding:
    """Pending jobs of kinds no live worker takes."""
    unserved_now = unserved(snap)
    if not unserved_now:
        return Finding("unserved kinds", True, "every pending kind has a live worker"
                       if snap.workers_alive else "no worker to compare with")
    total = sum(unserved_now.values())
    listed = ", ".join(f"{k} ({n})" for k, n in sorted(unserved_now.items()))
    return Finding("unserved kinds", False,
                   f"{total} pending of kinds no live worker takes: {listed}",
                   f"start a worker that takes them: `ingestctl worker --kinds "
                   f"{','.join(sorted(unserved_now))}` (with --import for your own handlers)")


def stuck(snap: Snapshot) -> Finding:
    """Handler slots whose handler ignored its stop signal (the worker reports them)."""
    if not snap.stuck_slots:
        return Finding("stuck slots", True, "none")
    per_worker = "; ".join(f"worker {w.id} has {w.stuck_slots} of {w.concurrency} slot(s) stuck"
                           for w in snap.workers if w.stuck_slots)
    return Finding("stuck slots", False, f"{per_worker} in handlers that ignored their stop "
                   "(a worker claims only for its other slots, and exits 70 once all are stuck)",
                   "make the handler check should_stop, or run its kind with isolation: process "
                   "(a stuck child is killed)")
