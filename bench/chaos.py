"""Chaos run: four workers, 20,000 jobs, a worker SIGKILLed every few seconds, Valkey killed once.

Four `ingestctl worker` processes on the embedded server work through a mix of noop, sleep
(0-50 ms) and fail (permanent or retryable) jobs whose handlers (bench/chaos_handlers.py) append
one line per completed run to a side-effect log. Every KILL_EVERY seconds a random worker is
SIGKILLed and a fresh one started; once half the jobs are finished the embedded Valkey itself is
SIGKILLed, and the workers restart it (``ensure_running``; this script never does). At the end
bench/chaos_check.py checks states, side effects and acks, and explains every job that ran twice.

    python bench/chaos.py [--quick] [--seed N]
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from ingestq.core import queries as reads
from ingestq.core.connection import connect
from ingestq.core.embedded import EmbeddedServer
from ingestq.core.queue import JobSpec, Queue

BENCH = Path(__file__).resolve().parent
KILL_EVERY = 2.0  # seconds between worker SIGKILLs
WORKERS = 4
RUN_CAP = 900.0  # give up (and say so) after 15 minutes
SETTINGS = {  # a short lease, so killed workers' jobs come back within seconds
    "INGESTQ_QUEUE_RECOVERY__LEASE_SECONDS": "2",
    "INGESTQ_QUEUE_RECOVERY__HEARTBEAT_SECONDS": "0.5",
    "INGESTQ_QUEUE_RECOVERY__REAPER_INTERVAL_SECONDS": "0.5",
    "INGESTQ_RETRY_BACKOFF__BASE_SECONDS": "0.2",
    "INGESTQ_RETRY_BACKOFF__CAP_SECONDS": "2",
    # keep every finished record, so the check can read all of them
    "INGESTQ_QUEUE__DONE_RETENTION_COUNT": "1000000",
}


def make_jobs(n: int, rng: random.Random) -> list[JobSpec]:
    """70% noop, 20% sleep 0-50 ms, 5% permanent failures, 5% retryable failures."""
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.70:
            out.append(JobSpec("c_noop", {}))
        elif r < 0.90:
            out.append(JobSpec("c_sleep", {"seconds": round(rng.uniform(0, 0.05), 3)}))
        else:
            out.append(JobSpec("c_fail", {"permanent": r < 0.95}))
    return out


class Fleet:
    """The worker processes: each logs JSON to logs/worker-<pid>.log; any can be killed."""

    def __init__(self, env: dict[str, str], logs: Path, size: int) -> None:
        self.env = env
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.procs = [self._start() for _ in range(size)]

    def _start(self) -> subprocess.Popen[bytes]:
        tmp = self.logs / f"starting-{uuid.uuid4().hex}.log"
        with open(tmp, "wb") as log:
            p = subprocess.Popen(
                [sys.executable, "-m", "ingestq.cli.main", "--log-level", "debug", "worker",
                 "--import", "chaos_handlers", "--kinds", "c_noop,c_sleep,c_fail"],
                env=self.env, stdout=subprocess.DEVNULL, stderr=log)
        tmp.rename(self.logs / f"worker-{p.pid}.log")  # the child keeps writing to it
        return p

    def kill_one(self, rng: random.Random, chaos: Chaos) -> None:
        """SIGKILL a random worker and start a fresh one in its place."""
        i = rng.randrange(len(self.procs))
        self.procs[i].send_signal(signal.SIGKILL)
        chaos.killed_pids[self.procs[i].pid] = time.time()
        self.procs[i].wait()
        self.procs[i] = self._start()

    def stop(self) -> list[str]:
        """SIGTERM every worker; their exit codes, noting any still starting up."""
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        codes = []
        for p in self.procs:
            code = p.wait(60)
            log = (self.logs / f"worker-{p.pid}.log").read_text(errors="replace")
            # SIGTERM before Worker.run installed its handler: nothing claimed yet
            codes.append(str(code) if "worker started" in log else f"{code} (still starting)")
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
    """SIGKILL the embedded server, then wait (without touching it) until a worker restarts it."""
    pid = server.pid()
    if pid is None:
        raise SystemExit("no embedded Valkey pid to kill")
    os.kill(pid, signal.SIGKILL)
    chaos.valkey_killed = time.time()
    while not answers(server):
        if time.time() - chaos.valkey_killed > 60:
            raise SystemExit("the workers did not restart Valkey within 60 s")
        time.sleep(0.02)
    chaos.valkey_back = time.time()
    print(f"valkey pid {pid} killed; pid {server.pid()} answering after "
          f"{chaos.valkey_back - chaos.valkey_killed:.2f} s", flush=True)


def drive(q: Queue, fleet: Fleet, server: EmbeddedServer, n: int, rng: random.Random,
          chaos: Chaos) -> None:
    """Kill workers (and Valkey once) until nothing is pending, scheduled or in flight."""
    started = time.monotonic()
    next_kill = started + KILL_EVERY
    while True:
        try:
            c = reads.counts(q)
        except RedisError:
            time.sleep(0.05)  # only possible right after the Valkey kill; workers restart it
            continue
        if c["pending"] + c["scheduled"] + c["processing"] == 0:
            return
        if time.monotonic() - started > RUN_CAP:
            raise SystemExit(f"chaos run did not finish in {RUN_CAP:.0f} s: {c}")
        if time.monotonic() >= next_kill:
            fleet.kill_one(rng, chaos)
            next_kill = time.monotonic() + KILL_EVERY
        if chaos.valkey_killed is None and c["done"] + c["dead"] >= n // 2:
            kill_valkey(server, chaos)
        time.sleep(0.1)


def run(n: int, seed: int) -> tuple[str, Findings]:
    """The whole run in a fresh data directory; returns the RESULTS.md section."""
    at_start = load()
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
    ids = [r.id for r in q.enqueue_many(specs)]
    time.sleep(1.5)  # the AOF is fsynced every second: the enqueue is on disk before any kill
    chaos = Chaos()
    started = time.monotonic()
    fleet = Fleet(env, logs, WORKERS)
    try:
        drive(q, fleet, server, n, rng, chaos)
    finally:
        elapsed = time.monotonic() - started
        codes = fleet.stop()
    findings = check(q, ids, dict(zip(ids, specs, strict=True)), effects, logs, chaos)
    server.stop()
    keep = os.environ.get("CHAOS_KEEP")
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return render(n, chaos, elapsed, codes, findings, at_start), findings


def render(n: int, chaos: Chaos, elapsed: float, codes: list[str], f: Findings,
           at_start: str) -> str:
    """The chaos section of RESULTS.md."""
    back = (chaos.valkey_back or 0) - (chaos.valkey_killed or 0)
    lines = [
        "## Chaos run (issue 3)", "",
        f"`{command_line()}` at {git_rev()} on {dt.date.today()}. {machine()}; {at_start}.", "",
        f"{n:,} jobs (70% noop, 20% sleep 0-50 ms, 5% permanent failures, 5% retryable "
        f"failures; max_retries 3), {WORKERS} `ingestctl worker` processes (concurrency 8, "
        "lease 2 s, heartbeat 0.5 s, reaper 0.5 s) on the embedded Valkey; a random worker "
        f"SIGKILLed and replaced every {KILL_EVERY:g} s ({len(chaos.killed_pids)} kills); the "
        f"embedded Valkey SIGKILLed once, half way: the workers restarted it themselves "
        f"(`ensure_running`), answering {back:.2f} s after the kill. All jobs finished "
        f"{elapsed:.1f} s after the workers started; exit codes after SIGTERM: "
        f"{', '.join(codes)} (a worker still starting up has no handler yet and no job).", "",
        "The embedded server's clients make no transparent retries, so a worker's failed call "
        "reaches `Worker.revive_server` at once and the restart takes well under a second; "
        "with redis-py 8's default retries (10, exponential backoff) it took 9.56 s in the run "
        "at 5f6c004.", "",
        "| check | result |", "|---|---|",
        *(f"| {k} | {v} |" for k, v in f.rows), "",
        f"Verdict: **{'pass' if f.ok else 'FAIL'}**: no record lost, nothing left in flight, "
        "every done job ran to completion at least once and was acked once in the final "
        "state; every extra run is at-least-once delivery with its cause named above (a worker "
        "killed between side effect and ack; a lease that ran out while Valkey was down, so "
        "the late ack was refused; an ack accepted in the last second before the Valkey kill "
        "and lost with the unsynced AOF tail). Retryable failures end `retries_exhausted` "
        "after 1 + max_retries attempts: that is their permanent reason.", "",
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
    parser.add_argument("--quick", action="store_true", help="4,000 jobs instead of 20,000")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    text, findings = run(4000 if args.quick else 20_000, args.seed)
    print(text)
    write_section("chaos", text)
    raise SystemExit(0 if findings.ok else 1)


if __name__ == "__main__":
    main()
