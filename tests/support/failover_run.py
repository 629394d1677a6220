"""A run with a primary killed in the middle: real workers, a producer, then what was lost.

Used by tests/core/test_failover.py (a few hundred jobs) and bench/failover.py (20,000).
Workers are real ``ingestctl worker`` processes running the ``effect`` handler
(tests/support/sample_handlers.py), which appends ``id n`` to a side-effect log per completed
run; a producer thread enqueues jobs with a unique ``n`` while they work, keeping a bounded
backlog so enqueues are in flight when the primary dies. Afterwards:

- **lost**: enqueues that returned (``n`` confirmed) whose job never ran;
- **ran more than once**: an ``n`` in the side-effect log twice;
- **acks accepted twice**: a job whose ack two workers were told was accepted (their debug
  ``ack`` lines). A job id the new primary handed out again (its first owner's enqueue never
  reached the replica) is counted as *reissued*, not as a double ack: those are two jobs.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from subprocess import Popen

from redis.exceptions import RedisError

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.connection import connect
from ingestq.core.queue import JobSpec, Queue
from ingestq.errors import IngestqError
from support.procs import env_for, ingestctl, stop

BACKLOG = 400  # the producer keeps at most this many jobs waiting
BATCH = 20  # jobs per enqueue call
SAMPLE_SECONDS = 0.25  # throughput samples


@dataclass
class Findings:
    """What a run lost, repeated or double-accepted, and how fast it recovered."""

    confirmed: int = 0  # enqueues that returned
    refused: int = 0  # enqueue calls that raised (the producer retried them)
    processed: int = 0  # confirmed jobs that ran
    lost: list[int] = field(default_factory=list)
    ran_twice: int = 0
    double_acked: int = 0
    reissued: int = 0
    reaped: int = 0  # leases that ran out (including claims whose reply died with the primary)
    # leases a worker held since at least 1 s before the kill (so the replica had them) that
    # still ran out or were reported lost: a failover shorter than the lease should leave none
    held_leases_lost: int = 0
    rate_before: float = 0.0  # jobs/s over the 5 s before the kill
    half_rate_after: float | None = None  # seconds from the kill to half that rate
    wall: float = 0.0
    steady_rate: float = 0.0  # jobs/s from first to last completion, whole run

    def as_dict(self) -> dict[str, object]:
        """JSON-ready figures."""
        out = dict(self.__dict__)
        out["lost"] = len(self.lost)
        return out


@dataclass
class FailoverRun:
    """One run: ``kill`` is called once ``kill_at`` of the jobs are done (None: no kill)."""

    settings: IngestSettings
    workdir: Path
    jobs: int
    kill: Callable[[Queue], None] | None
    workers: int = 2
    kill_at: float = 0.4
    timeout: float = 120.0
    with_service_port: int | None = None
    backlog: int = BACKLOG
    procs: list[Popen[str]] = field(default_factory=list)
    confirmed: dict[int, str] = field(default_factory=dict)  # n -> job id
    samples: list[tuple[float, int]] = field(default_factory=list)
    killed_at: float | None = None
    killed_wall: float = 0.0
    after_checks_passed: bool = False
    done_now: int = 0  # side effects seen at the last sample (the producer paces on it)
    findings: Findings = field(default_factory=Findings)

    @property
    def effects(self) -> Path:
        """The side-effect log."""
        return self.workdir / "effects.log"

    def start(self) -> Queue:
        """Start the workers (and the service, when given a port); return a producer's queue."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = env_for(self.settings, redis__min_replicas_acked=self.settings.redis
                      .min_replicas_acked)
        env["EFFECTS_LOG"] = str(self.effects)
        for i in range(self.workers):
            self.procs.append(ingestctl(env, "--log-level", "debug", "worker", "--import",
                                        "support.sample_handlers", "--kinds", "effect",
                                        log=self.workdir / f"worker-{i}.log"))
        queue = Queue(connect(self.settings, warn_risks=False, socket_timeout=5), self.settings)
        if self.with_service_port:
            self.procs.append(ingestctl(env, "serve", "--port", str(self.with_service_port),
                                        log=self.workdir / "service.log"))
            # the service must be up before the kill, or the run would not test it through one
            ready = f"http://127.0.0.1:{self.with_service_port}/readyz"
            if not _poll(lambda: _answers(ready), 60):
                raise AssertionError("the service did not answer /readyz within 60 s")
        return queue

    def run(self, check: Callable[[Queue], bool] | None = None) -> Findings:
        """Produce, kill once, wait for every confirmed job; then count.

        ``check`` (for example: the service answers) is polled for up to 20 s once every job ran,
        before any process is stopped; ``after_checks_passed`` says whether it came true.
        """
        queue = self.start()
        started = time.monotonic()
        producer = threading.Thread(target=self._produce, args=(queue,), daemon=True)
        producer.start()
        try:
            while time.monotonic() - started < self.timeout:
                done = self.done_now = self._effects_count()
                self.samples.append((time.monotonic(), done))
                if self.kill and self.killed_at is None and done >= self.kill_at * self.jobs:
                    self.killed_at, self.killed_wall = time.monotonic(), time.time()
                    self.kill(queue)
                if not producer.is_alive() and self._all_ran():
                    break
                time.sleep(SAMPLE_SECONDS)
            self.findings.wall = time.monotonic() - started
            if check is not None:
                self.after_checks_passed = _poll(lambda: check(queue), 20)
            stats = queries.stats(queue)
            self.findings.reaped = sum(int(v) for k, v in stats.items()
                                       if str(k).startswith("reaped:"))
        finally:
            for proc in self.procs:
                stop(proc)
        producer.join(10)
        self._count()
        return self.findings

    def _produce(self, queue: Queue) -> None:
        n = 0
        while n < self.jobs:
            try:
                if n - self.done_now > self.backlog:
                    time.sleep(0.02)
                    continue
                specs = [JobSpec("effect", {"n": n + i}) for i in range(min(BATCH, self.jobs - n))]
                for i, got in enumerate(queue.enqueue_many(specs)):
                    self.confirmed[n + i] = got.id
                n += len(specs)
            except (RedisError, IngestqError):
                self.findings.refused += 1  # not confirmed: the same n is enqueued again
                time.sleep(0.05)

    def _effects_count(self) -> int:
        try:
            with open(self.effects, "rb") as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def _ran(self) -> Counter[int]:
        ran: Counter[int] = Counter()
        if self.effects.exists():
            for line in self.effects.read_text().splitlines():
                ran[int(line.split()[1])] += 1
        return ran

    def _all_ran(self) -> bool:
        return len(self.confirmed) >= self.jobs and set(self.confirmed) <= set(self._ran())

    def _count(self) -> None:
        f = self.findings
        ran = self._ran()
        f.confirmed = len(self.confirmed)
        f.lost = sorted(n for n in self.confirmed if n not in ran)
        f.processed = f.confirmed - len(f.lost)
        f.ran_twice = sum(1 for c in ran.values() if c > 1)
        ns_of: dict[str, set[int]] = {}
        for line in self.effects.read_text().splitlines() if self.effects.exists() else []:
            job_id, n = line.split()
            ns_of.setdefault(job_id, set()).add(int(n))
        f.reissued = sum(1 for ns in ns_of.values() if len(ns) > 1)
        f.held_leases_lost = self._held_leases_lost()
        acks = Counter(self._accepted_acks())
        f.double_acked = sum(1 for job_id, c in acks.items()
                             if c > 1 and len(ns_of.get(job_id, ())) <= 1)
        self._rates()

    def _events(self, *names: str) -> list[dict[str, object]]:
        out = []
        for log in [*self.workdir.glob("worker-*.log"), self.workdir / "reaper.log"]:
            if not log.exists():
                continue
            for line in log.read_text(errors="replace").splitlines():
                if any(f'"event": "{n}"' in line for n in names):
                    event = json.loads(line)
                    event["t"] = datetime.fromisoformat(str(event["timestamp"])).timestamp()
                    out.append(event)
        return sorted(out, key=lambda e: float(e["t"]))  # type: ignore[arg-type]

    def _accepted_acks(self) -> list[str]:
        return [str(e["job_id"]) for e in self._events("ack")]

    def _held_leases_lost(self) -> int:
        if self.killed_at is None:
            return 0
        claimed: dict[str, float] = {}  # job id -> time of its latest claim by a worker
        lost = 0
        for e in self._events("claim", "reap", "lease lost: attempt abandoned, not acked"):
            job, t = str(e["job_id"]), float(e["t"])  # type: ignore[arg-type]
            if e["event"] == "claim":
                claimed[job] = t
            elif claimed.get(job, t) < self.killed_wall - 1.0 and t > self.killed_wall:
                lost += 1
        return lost

    def _rates(self) -> None:
        f, s = self.findings, self.samples
        moving = [(t, d) for t, d in s if d > 0]
        if len(moving) > 1 and moving[-1][0] > moving[0][0]:
            f.steady_rate = (moving[-1][1] - moving[0][1]) / (moving[-1][0] - moving[0][0])
        if self.killed_at is None:
            return
        before = [(t, d) for t, d in s if self.killed_at - 5 <= t <= self.killed_at]
        if len(before) > 1 and before[-1][0] > before[0][0]:
            f.rate_before = (before[-1][1] - before[0][1]) / (before[-1][0] - before[0][0])
        after = [(t, d) for t, d in s if t >= self.killed_at]
        for i, (t, d) in enumerate(after):
            # the rate over the next second of samples
            j = next((k for k in range(i, len(after)) if after[k][0] >= t + 1.0), None)
            if j is None:
                break
            rate = (after[j][1] - d) / (after[j][0] - t)
            if rate >= f.rate_before / 2:
                f.half_rate_after = t - self.killed_at
                return


def _poll(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (RedisError, IngestqError, OSError):
            pass
        time.sleep(0.2)
    return False


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=3) as resp:
        return bool(resp.status == 200)


def tuned(settings: IngestSettings, url: str, *, acked: int) -> IngestSettings:
    """The run's settings: a lease longer than a failover, frequent beats and reap passes."""
    rc = settings.queue_recovery.model_copy(update={
        "lease_seconds": 8.0, "heartbeat_seconds": 0.5, "reaper_interval_seconds": 0.5})
    q = settings.queue.model_copy(update={"done_retention_count": 1_000_000,
                                          "name": "fo-" + os.urandom(4).hex()})
    r = settings.redis.model_copy(update={"url": url, "min_replicas_acked": acked})
    return settings.model_copy(update={"queue_recovery": rc, "queue": q, "redis": r})


def still_works(queue: Queue) -> bool:
    """A read on the (possibly new) primary succeeds."""
    try:
        queries.counts(queue)
        return True
    except RedisError:
        return False
