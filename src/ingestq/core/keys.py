"""Every Redis key name of a queue, in one place.

All keys of one queue share the Cluster hash tag ``{<queue>}``, so every Lua script touches one
slot and works unchanged on Redis Cluster. Job hashes (``job:<id>``) and worker hashes are built
inside the scripts from the prefix; they carry the same tag and so live in the same slot.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.crc import key_slot

ROOT = "ingestq"


@dataclass(frozen=True)
class QueueKeys:
    """Key names for one queue."""

    queue: str

    @property
    def prefix(self) -> str:
        """Common prefix ending in ':'; job and worker hashes are ``prefix + 'job:' + id``."""
        return f"{ROOT}:{{{self.queue}}}:"

    @property
    def slot(self) -> int:
        """The Cluster hash slot (0-16383) every key of this queue lives in.

        ``CLUSTER SLOTS`` says which primary serves it; queues meant to spread load should have
        slots served by different primaries (docs/architecture.md, "Cluster").
        """
        return int(key_slot(self.prefix.encode()))

    def _k(self, name: str) -> str:
        return self.prefix + name

    @property
    def pending_prefix(self) -> str:
        """Per-kind pending lists are ``pending:<kind>``; FIFO across kinds by job sequence."""
        return self._k("pending:")

    def pending(self, kind: str) -> str:
        """The pending list of one kind."""
        return self.pending_prefix + kind

    @property
    def kinds(self) -> str:
        """Set of kinds that ever had a pending list."""
        return self._k("kinds")

    @property
    def scheduled(self) -> str:
        """Zset id -> due time (ms): delayed retries."""
        return self._k("scheduled")

    @property
    def processing(self) -> str:
        """Zset id -> lease deadline (ms)."""
        return self._k("processing")

    @property
    def claimed(self) -> str:
        """Zset id -> claim time (ms) of jobs in processing: in-flight ages for metrics."""
        return self._k("claimed")

    @property
    def done(self) -> str:
        """Zset id -> finished time (ms), trimmed by age and count."""
        return self._k("done")

    @property
    def dead(self) -> str:
        """Zset id -> time of death (ms)."""
        return self._k("dead")

    @property
    def dedupe(self) -> str:
        """Hash dedupe key -> id of the live job holding it."""
        return self._k("dedupe")

    @property
    def stats(self) -> str:
        """Hash of counters shared by every process."""
        return self._k("stats")

    @property
    def seq(self) -> str:
        """Counter that gives jobs their ids (monotonic, so ids order jobs by enqueue)."""
        return self._k("seq")

    @property
    def events(self) -> str:
        """Capped stream of lifecycle events."""
        return self._k("events")

    @property
    def wake(self) -> str:
        """List of wake-up tokens: idle workers block on it instead of polling."""
        return self._k("wake")

    @property
    def workers(self) -> str:
        """Zset worker id -> last beat (ms)."""
        return self._k("workers")

    def worker(self, worker_id: str) -> str:
        """Hash describing one worker."""
        return self._k("worker:" + worker_id)

    @property
    def paused(self) -> str:
        """Set of paused kinds: claim skips them."""
        return self._k("paused")

    @property
    def cancelled(self) -> str:
        """Zset 'id:token' -> time (ms) of running attempts cancelled in the last hour: the
        workers holding them stop them (the scripts build this name from the prefix)."""
        return self._k("cancelled")

    @property
    def history(self) -> str:
        """Hash minute (Unix minute) -> counters sampled then, for the dashboard's chart."""
        return self._k("history")

    @property
    def reaper(self) -> str:
        """Hash: last reap pass time and result."""
        return self._k("reaper")

    @property
    def fence(self) -> str:
        """Hash: replication id under which fencing tokens are minted, and their floor."""
        return self._k("fence")

    def job(self, job_id: str) -> str:
        """Hash holding one job record."""
        return self._k("job:" + job_id)
