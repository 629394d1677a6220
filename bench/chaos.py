"""Chaos run: 20,000 jobs fed to four workers while workers, reapers and Valkey are attacked.

Four `ingestctl worker --no-reaper` processes and two `ingestctl reaper` processes on the
embedded server work through a mix of noop, sleep (0-50 ms), fail (permanent or retryable) and
stuck jobs (a handler that ignores its stop and blocks a thread slot for 20 s, far past
job_timeout_seconds) whose handlers (bench/chaos_handlers.py) append one line per completed run
to a side-effect log. Jobs are fed over FEED_SECONDS, so the faults land on a busy queue:

- every KILL_EVERY s a random worker (one up for MIN_LIFE s) is SIGKILLed and replaced;
- every PAUSE_EVERY s a random worker is SIGSTOPped for PAUSE_SECONDS (past its 2 s lease, so
  its jobs are reaped and often claimed again by the same worker after SIGCONT);
- every REAPER_KILL_EVERY s a reaper is SIGKILLed and restarted;
- once half the jobs are fed, the embedded Valkey is SIGKILLed; workers and reapers restart it
  (``ensure_running``; this script never does);
- a worker that exits on its own (every slot stuck: exit 70) is restarted, as `up` would.

At the end bench/chaos_check.py checks states, side effects and acks, explains every job that
ran twice, and counts lost, stuck, double-acked and wrongly poisoned (healthy but dead) jobs.

    python bench/chaos.py [--jobs N] [--feed-seconds S] [--seed N] [--no-record] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from chaos_check import Chaos, Findings, check
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from results import command_line, git_rev, load, machine, write_section

from ingestq.config import load_config
from ingestq.core import queries
from ingestq.core.connection import connect
from ingestq.core.embedded import EmbeddedServer
from ingestq.core.queue import JobSpec, Queue

BENCH = Path(__file__).resolve().parent
WORKERS = 4
REAPERS = 2
KILL_EVERY = 2.0  # seconds between worker SIGKILLs
PAUSE_EVERY = 3.0  # seconds between worker SIGSTOPs
PAUSE_SECONDS = 2.6  # past the 2 s lease
REAPER_KILL_EVERY = 4.0
MIN_LIFE = 2.0  # a worker is attacked only once it has run this long (it holds jobs by then)
STUCK_SECONDS = 20.0  # how long a stuck handler blocks its thread (job timeout: 5 s)
RUN_CAP = 3600.0  # give up (and say so) after an hour (--cap-seconds)
SETTINGS = {  # a short lease, so killed and paused workers' jobs come back within seconds
    "INGESTQ_QUEUE_RECOVERY__LEASE_SECONDS": "2",
    "INGESTQ_QUEUE_RECOVERY__HEARTBEAT_SECONDS": "0.5",
    "INGESTQ_QUEUE_RECOVERY__REAPER_INTERVAL_SECONDS": "0.5",
    "INGESTQ_QUEUE_RECOVERY__JOB_TIMEOUT_SECONDS": "5",
    "INGESTQ_RETRY_BACKOFF__BASE_SECONDS": "0.2",
    "INGESTQ_RETRY_BACKOFF__CAP_SECONDS": "2",
    # keep every finished record, so the check can read all of them
    "INGESTQ_QUEUE__DONE_RETENTION_COUNT": "1000000",
}
KINDS = "c_noop,c_sleep,c_fail,c_stuck"


def make_jobs(n: int, rng: random.Random) -> list[JobSpec]:
    """70% noop, 20% sleep 0-50 ms, 5% permanent and 5% retryable failures; then 0.1% (at
    least one) of the noops become stuck jobs."""
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.70:
            out.append(JobSpec("c_noop", {}))
        elif r < 0.90:
            out.append(JobSpec("c_sleep", {"seconds": round(rng.uniform(0, 0.05), 3)}))
        else:
            out.append(JobSpec("c_fail", {"permanent": r < 0.95}))
    noops = [i for i, spec in enumerate(out) if spec.kind == "c_noop"]
    for i in rng.sample(noops, max(1, n // 1000)):
        out[i] = JobSpec("c_stuck", {"seconds": STUCK_SECONDS})
    return out


class Fleet:
    """Worker and reaper processes: each logs JSON to logs/<role>-<pid>.log; any can be killed."""

    def __init__(self, env: dict[str, str], logs: Path, chaos: Chaos) -> None:
        self.env = env
        self.logs = logs
        self.chaos = chaos
        logs.mkdir(parents=True, exist_ok=True)
        self.workers = [self._start("worker") for _ in range(WORKERS)]
        self.reapers = [self._start("reaper") for _ in range(REAPERS)]
        self.paused: dict[int, float] = {}  # worker pid -> when to SIGCONT it
        self.up_since: dict[int, float] = {}  # worker pid -> when its start was first seen
        self.old: list[subprocess.Popen[bytes]] = []

    def _start(self, role: str) -> subprocess.Popen[bytes]:
        args = (["worker", "--no-reaper", "--import", "chaos_handlers", "--kinds", KINDS]
                if role == "worker" else ["reaper"])
        tmp = self.logs / f"starting-{uuid.uuid4().hex}.log"
        with open(tmp, "wb") as log:
            p = subprocess.Popen([sys.executable, "-m", "ingestq.cli", "--log-level",
                                  "debug", *args], env=self.env, stdout=subprocess.DEVNULL,
                                 stderr=log)
        tmp.rename(self.logs / f"{role}-{p.pid}.log")  # the child keeps writing to it
        return p

    def wait_started(self, timeout: float = 300.0) -> None:
        """Until every first worker has logged its start (Python starts slowly on a busy box)."""
        deadline = time.monotonic() + timeout
        for p in self.workers:
            log = self.logs / f"worker-{p.pid}.log"
            while "worker started" not in log.read_text(errors="replace"):
                if time.monotonic() > deadline or p.poll() is not None:
                    raise SystemExit(f"worker {p.pid} did not start; see {log}")
                time.sleep(0.1)

    def targets(self) -> list[int]:
        """Indexes of the workers up for MIN_LIFE s: on a loaded machine a Python start takes
        seconds, and killing workers still starting up would test nothing and stall the run."""
        now = time.monotonic()
        out = []
        for i, p in enumerate(self.workers):
            if p.pid not in self.up_since and "worker started" in (
                    self.logs / f"worker-{p.pid}.log").read_text(errors="replace"):
                self.up_since[p.pid] = now
            if now - self.up_since.get(p.pid, now) >= MIN_LIFE:
                out.append(i)
        return out

    def kill_worker(self, rng: random.Random) -> None:
        """SIGKILL a random worker that is up (paused or not) and start a fresh one."""
        up = self.targets()
        if not up:
            return
        i = rng.choice(up)
        p = self.workers[i]
        p.send_signal(signal.SIGKILL)
        self.chaos.killed_pids[p.pid] = time.time()
        self.paused.pop(p.pid, None)
        p.wait()
        self.workers[i] = self._start("worker")

    def pause_worker(self, rng: random.Random) -> None:
        """SIGSTOP a random running worker; ``tend`` sends SIGCONT PAUSE_SECONDS later."""
        running = [self.workers[i] for i in self.targets()
                   if self.workers[i].pid not in self.paused]
        if running:
            p = rng.choice(running)
            p.send_signal(signal.SIGSTOP)
            self.paused[p.pid] = time.monotonic() + PAUSE_SECONDS
            self.chaos.pauses += 1

    def kill_reaper(self, rng: random.Random) -> None:
        """SIGKILL a random reaper and start a fresh one."""
        i = rng.randrange(len(self.reapers))
        self.reapers[i].send_signal(signal.SIGKILL)
        self.reapers[i].wait()
        self.chaos.reaper_kills += 1
        self.reapers[i] = self._start("reaper")

    def tend(self) -> None:
        """Resume paused workers whose time came; restart any process that exited by itself."""
        now = time.monotonic()
        for p in self.workers:
            if self.paused.get(p.pid, now + 1) <= now:
                p.send_signal(signal.SIGCONT)
                del self.paused[p.pid]
        for group, role in ((self.workers, "worker"), (self.reapers, "reaper")):
            for i, p in enumerate(group):
                code = p.poll()
                if code is not None:
                    self.chaos.self_exits[f"{role} {code}"] = (
                        self.chaos.self_exits.get(f"{role} {code}", 0) + 1)
                    self.chaos.exited_pids.add(p.pid)
                    group[i] = self._start(role)

    def stop(self) -> list[str]:
        """SIGTERM every process; the workers' exit codes, noting any still starting up."""
        for p in self.workers:
            p.send_signal(signal.SIGCONT)
        for p in [*self.workers, *self.reapers]:
            p.send_signal(signal.SIGTERM)
        codes = []
        for p in self.workers:
            code = p.wait(60)
            log = (self.logs / f"worker-{p.pid}.log").read_text(errors="replace")
            # SIGTERM before Worker.run installed its handler: nothing claimed yet
            codes.append(str(code) if "worker started" in log else f"{code} (still starting)")
        for p in self.reapers:
            p.wait(60)
        return codes


def answers(server: EmbeddedServer) -> bool:
    """PING without client retries (EmbeddedServer.ping inherits redis-py's, seconds long)."""
    try:
        with Redis(unix_socket_path=str(server.socket), socket_timeout=1,
                   retry=Retry(NoBackoff(), 0)) as c:
            return bool(c.ping())
    except (RedisError, OSError):
        return False


def kill_valkey(server: EmbeddedServer, chaos: Chaos) -> None:
    """SIGKILL the embedded server, then wait (without touching it) until someone restarts it."""
    time.sleep(1.5)  # appendfsync everysec: the jobs fed so far are on disk
    pid = server.pid()
    if pid is None:
        raise SystemExit("no embedded Valkey pid to kill")
    os.kill(pid, signal.SIGKILL)
    chaos.valkey_killed = time.time()
    while not answers(server):
        if time.time() - chaos.valkey_killed > 60:
            raise SystemExit("nobody restarted Valkey within 60 s")
        time.sleep(0.02)
    chaos.valkey_back = time.time()
    print(f"valkey pid {pid} killed; pid {server.pid()} answering after "
          f"{chaos.valkey_back - chaos.valkey_killed:.2f} s", flush=True)


class Feeder:
    """Enqueues the jobs evenly over ``seconds``, so faults land while work flows."""

    def __init__(self, q: Queue, specs: list[JobSpec], seconds: float) -> None:
        self.q = q
        self.specs = specs
        self.seconds = seconds
        self.ids: list[str] = []
        self.started = time.monotonic()

    @property
    def done(self) -> bool:
        """Every job enqueued."""
        return len(self.ids) == len(self.specs)

    def feed(self) -> None:
        """Enqueue what is due by now."""
        share = min(1.0, (time.monotonic() - self.started) / max(self.seconds, 0.001))
        due = int(len(self.specs) * share)
        if due > len(self.ids):
            self.ids += [r.id for r in self.q.enqueue_many(self.specs[len(self.ids):due])]


def drive(q: Queue, fleet: Fleet, server: EmbeddedServer, feeder: Feeder, rng: random.Random,
          chaos: Chaos, cap: float) -> None:
    """Feed and attack until everything is fed and nothing is pending, scheduled or in flight."""
    started = time.monotonic()
    due = {"kill": started + KILL_EVERY, "pause": started + PAUSE_EVERY,
           "reaper": started + REAPER_KILL_EVERY}
    every = {"kill": KILL_EVERY, "pause": PAUSE_EVERY, "reaper": REAPER_KILL_EVERY}
    act = {"kill": fleet.kill_worker, "pause": fleet.pause_worker, "reaper": fleet.kill_reaper}
    while True:
        fleet.tend()
        try:
            feeder.feed()
            c = queries.counts(q)
        except RedisError:
            time.sleep(0.05)  # only possible right after the Valkey kill
            continue
        if feeder.done and c["pending"] + c["scheduled"] + c["processing"] == 0:
            return
        if time.monotonic() - started > cap:
            raise SystemExit(f"chaos run did not finish in {cap:.0f} s: {c}")
        for fault, at in due.items():
            if time.monotonic() >= at:
                act[fault](rng)
                due[fault] = time.monotonic() + every[fault]
        if chaos.valkey_killed is None and len(feeder.ids) >= len(feeder.specs) // 2:
            kill_valkey(server, chaos)
        time.sleep(0.1)


def run(n: int, seed: int, feed_seconds: float, cap: float = RUN_CAP
        ) -> tuple[Chaos, Findings, dict[str, object]]:
    """The whole run in a fresh data directory."""
    rng = random.Random(seed)
    data_dir = Path(tempfile.mkdtemp(prefix="ingestq-chaos-"))
    effects, logs = data_dir / "effects.log", data_dir / "logs"
    env = {**os.environ, **SETTINGS, "INGESTQ_DATA_DIR": str(data_dir),
           "INGESTQ_QUEUE__NAME": "chaos", "CHAOS_LOG": str(effects),
           "PYTHONPATH": os.pathsep.join([str(BENCH), os.environ.get("PYTHONPATH", "")])}
    env.pop("INGESTQ_REDIS_URL", None)
    settings = load_config(environ={k: v for k, v in env.items()
                                    if k.startswith("INGESTQ_")}).ingest
    q = Queue(connect(settings), settings)
    server = EmbeddedServer(data_dir)
    specs = make_jobs(n, rng)
    chaos = Chaos()
    fleet = Fleet(env, logs, chaos)
    fleet.wait_started()
    started = time.monotonic()
    feeder = Feeder(q, specs, feed_seconds)
    try:
        drive(q, fleet, server, feeder, rng, chaos, cap)
    except BaseException:  # a cap, SIGTERM or Ctrl-C: leave no process behind
        fleet.stop()
        server.stop()
        raise
    elapsed = time.monotonic() - started
    codes = fleet.stop()
    findings = check(q, feeder.ids, dict(zip(feeder.ids, specs, strict=True)), effects, logs,
                     chaos)
    server.stop()
    if not os.environ.get("CHAOS_KEEP"):
        shutil.rmtree(data_dir, ignore_errors=True)
    return chaos, findings, {"jobs": n, "elapsed": elapsed, "codes": codes,
                             "feed_seconds": feed_seconds}


def render(chaos: Chaos, f: Findings, info: dict[str, object], at_start: str) -> str:
    """The chaos section of RESULTS.md."""
    back = (chaos.valkey_back or 0) - (chaos.valkey_killed or 0)
    exits = ", ".join(f"{n} {k}" for k, n in sorted(chaos.self_exits.items())) or "none"
    lines = [
        "## Chaos run (issues 3 and 15)", "",
        f"`{command_line()}` at {git_rev()} on {dt.date.today()}. {machine()}; {at_start}.", "",
        f"{info['jobs']:,} jobs (70% noop, 20% sleep 0-50 ms, 5% permanent failures, 5% "
        f"retryable failures; 0.1% of them stuck instead: a handler that ignores its stop and "
        f"blocks its thread {STUCK_SECONDS:g} s; max_retries 3, max_crash_recoveries 3) fed "
        f"evenly over "
        f"{info['feed_seconds']:g} s to {WORKERS} `ingestctl worker --no-reaper` processes "
        f"(thread mode, concurrency 8, lease 2 s, heartbeat 0.5 s, job timeout 5 s) and "
        f"{REAPERS} `ingestctl reaper` processes (0.5 s) on the embedded Valkey. Faults: "
        f"{len(chaos.killed_pids)} worker SIGKILLs (every {KILL_EVERY:g} s), {chaos.pauses} "
        f"SIGSTOP/SIGCONT pauses of {PAUSE_SECONDS:g} s (every {PAUSE_EVERY:g} s; past the "
        f"lease), {chaos.reaper_kills} reaper SIGKILLs (every {REAPER_KILL_EVERY:g} s), the "
        f"faults hit only workers up for {MIN_LIFE:g} s or more; the "
        f"embedded Valkey SIGKILLed once half way (restarted by the workers and reapers "
        f"themselves, answering {back:.2f} s after the kill); processes that exited by "
        f"themselves and were restarted: {exits}. All jobs finished "
        f"{info['elapsed']:.1f} s after the first workers were up; worker exit codes after "
        f"SIGTERM: {', '.join(str(c) for c in info['codes'])}.", "",  # type: ignore[attr-defined]
        "| check | result |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in f.rows), "",
        f"Verdict: **{'pass' if f.ok else 'FAIL'}**: {f.summary['lost']} lost, "
        f"{f.summary['stuck']} stuck, {f.summary['double_acked']} double-acked, "
        f"{f.summary['wrongly_dead']} healthy jobs dead. Every extra run is at-least-once "
        "delivery with its cause named above (a worker killed between side effect and ack; a "
        "lease that ran out while its worker was paused or Valkey was down, so the late ack "
        "was refused; a job handed back by a worker that stopped). Retryable failures end "
        "`retries_exhausted` after 1 + max_retries attempts; stuck jobs end "
        "`retries_exhausted` (timeouts) or `poison` (when the workers holding them died).", "",
        "Why the Valkey kill lost no acknowledged write: with `appendfsync everysec` Valkey "
        "write()s the AOF buffer to the file before it sends the replies of that event-loop "
        "turn, so a SIGKILL of the process leaves every acknowledged write in the page cache "
        "and the restart replays it; the ~1 s window of `everysec` is lost only when the "
        "machine itself goes down (or when a slow disk makes Valkey postpone the write).",
    ]
    return "\n".join(lines)


def main() -> None:
    """Parse options, run, print and record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--feed-seconds", type=float, default=None,
                        help="spread the enqueue over this long (default: 1 s per 80 jobs)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cap-seconds", type=float, default=RUN_CAP,
                        help="give up after this long (a loaded machine is slow)")
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    # SIGTERM (a test timeout, a background run stopped) still stops the fleet in `finally`
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    at_start = load()
    chaos, findings, info = run(args.jobs, args.seed, args.feed_seconds or args.jobs / 80,
                                args.cap_seconds)
    if args.json:
        print(json.dumps({**findings.summary, "ok": findings.ok,
                          "worker_kills": len(chaos.killed_pids), "pauses": chaos.pauses,
                          "reaper_kills": chaos.reaper_kills,
                          "valkey_killed": chaos.valkey_killed is not None,
                          "self_exits": chaos.self_exits, "rows": findings.rows}))
    else:
        text = render(chaos, findings, info, at_start)
        print(text)
        if not args.no_record:
            write_section("chaos", text)
    raise SystemExit(0 if findings.ok else 1)


if __name__ == "__main__":
    main()
