"""The end-of-run checks of bench/chaos.py: states, side effects, acks, why a job ran twice.

Sources: the job records (Valkey), the handlers' side-effect log (``job_id pid attempt time``,
one line per completed run) and each worker's JSON log (``--log-level debug``: one ``ack`` line
per ack the server accepted, ``ack refused: lease lost`` when it refused one).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from ingestq.core import queries
from ingestq.core.job import Job, JobState
from ingestq.core.queue import JobSpec, Queue

AOF_WINDOW = 2.0  # appendfsync everysec: writes of the last ~1 s (2 s to be safe) may be lost


@dataclass(frozen=True)
class Run:
    """One completed handler run, from the side-effect log."""

    job_id: str
    pid: int
    attempt: int
    at: float


@dataclass
class Chaos:
    """What happened during the run, as the driver saw it."""

    killed_pids: dict[int, float] = field(default_factory=dict)  # worker pid -> kill time
    valkey_killed: float | None = None
    valkey_back: float | None = None
    pauses: int = 0  # SIGSTOP/SIGCONT pairs
    reaper_kills: int = 0
    self_exits: dict[str, int] = field(default_factory=dict)  # "role code" -> count
    exited_pids: set[int] = field(default_factory=set)  # workers that exited by themselves


def read_runs(path: Path) -> dict[str, list[Run]]:
    """Side-effect lines by job id, in time order."""
    out: dict[str, list[Run]] = collections.defaultdict(list)
    for line in path.read_text().splitlines():
        job_id, pid, attempt, at = line.split()
        out[job_id].append(Run(job_id, int(pid), int(attempt), float(at)))
    for runs in out.values():
        runs.sort(key=lambda r: r.at)
    return out


def read_acks(logs: Path) -> dict[tuple[str, int, int], list[tuple[str, float]]]:
    """(job id, attempt, pid) -> [(event, unix time)] for ack and refusal lines of every worker."""
    out: dict[tuple[str, int, int], list[tuple[str, float]]] = collections.defaultdict(list)
    for f in logs.glob("worker-*.log"):
        pid = int(f.stem.split("-")[1])
        for line in f.read_text(errors="replace").splitlines():
            if not line.startswith("{") or '"job_id"' not in line:
                continue
            rec = json.loads(line)
            if rec.get("event") in ("ack", "ack refused: lease lost", "release",
                                    "release refused: lease lost",
                                    "lease lost: attempt abandoned, not acked"):
                at = dt.datetime.fromisoformat(rec["timestamp"]).timestamp()
                out[(rec["job_id"], int(rec["attempt"]), pid)].append((rec["event"], at))
    return out


def counted_run(job: Job, runs: list[Run]) -> Run:
    """The run whose ack the server accepted: the job's last attempt (no claim follows an ack).

    Not simply the latest side effect: a paused worker's zombie attempt can write its side
    effect after the reclaimed attempt was acked (its own ack is then refused).
    """
    return next((r for r in reversed(runs) if r.attempt == job.attempts), runs[-1])


def why_again(run: Run, acks: dict[tuple[str, int, int], list[tuple[str, float]]],
              chaos: Chaos) -> str:
    """Why this run of a job was not the one that counted."""
    events = acks.get((run.job_id, run.attempt, run.pid), [])
    acked = [at for ev, at in events if ev == "ack"]
    if acked:
        k = chaos.valkey_killed
        if k is not None and k - AOF_WINDOW <= acked[0] <= k:
            return "acked, ack lost with the Valkey kill (AOF everysec)"
        return "acked, ack lost outside the Valkey kill window (UNEXPECTED)"
    if any(ev.startswith("release") for ev, _ in events):
        return "handed back by a stopping worker while it ran"
    if any(ev != "ack" for ev, _ in events):
        return "lease expired before the ack (ack refused)"
    if run.pid in chaos.killed_pids:
        return "worker SIGKILLed between the side effect and the ack"
    if run.pid in chaos.exited_pids:
        return "worker exited (every slot stuck) between the side effect and the ack"
    return "no ack and no refusal logged (UNEXPECTED)"


@dataclass
class Findings:
    """The end-of-run checks, ready to print."""

    rows: list[tuple[str, str]]
    ok: bool
    summary: dict[str, int] = field(default_factory=dict)  # lost, stuck, double_acked, ...


def check(q: Queue, ids: list[str], specs: dict[str, JobSpec], effects: Path, logs: Path,
          chaos: Chaos) -> Findings:
    """Every check of the chaos run, as (check, result) rows."""
    runs = read_runs(effects) if effects.exists() else {}
    acks = read_acks(logs)
    jobs = {j.id: j for j in queries.get_jobs(q, ids)}
    states = collections.Counter(j.state.value for j in jobs.values())
    c = queries.counts(q)
    wrong_dead = [f"{i} ({specs[i].kind}, {j.dead_reason})" for i, j in jobs.items()
                  if j.state is JobState.DEAD and j.dead_reason not in expected_reasons(
                      specs[i])]
    done = [j for j in jobs.values() if j.state is JobState.DONE]
    never_ran = [j.id for j in done if not runs.get(j.id)]
    dead_ran = [j.id for j in jobs.values() if j.state is JobState.DEAD and runs.get(j.id)]
    counted = {j.id: counted_run(j, runs[j.id]) for j in done if runs.get(j.id)}
    reasons = collections.Counter(why_again(r, acks, chaos) for j in done
                                  for r in runs.get(j.id, []) if r is not counted.get(j.id))
    twice = ack_twice(acks)
    logged = {job_id for (job_id, _, _), evs in acks.items() if any(e == "ack" for e, _ in evs)}
    unlogged = [j.id for j in done if j.id not in logged]
    # the run that counted had no ack line: its worker should be one that was SIGKILLed
    by_killed = sum(1 for i in unlogged if i in counted and counted[i].pid in chaos.killed_pids)
    k = chaos.valkey_killed
    rolled_back = [j for j, times in twice.items() if k is not None
                   and all(k - AOF_WINDOW <= t <= k for t in times[:-1])]
    stats = queries.stats(q)
    missing = len(ids) - len(jobs)
    left = c["pending"] + c["scheduled"] + c["processing"]
    rows = [
        ("final states", ", ".join(f"{k} {v:,}" for k, v in sorted(states.items()))),
        ("pending / scheduled / processing left",
         f"{c['pending']} / {c['scheduled']} / {c['processing']}"),
        ("records missing (enqueue lost)", str(missing)),
        ("dead with an unexpected reason", f"{len(wrong_dead)} {wrong_dead[:5]}"),
        ("done jobs with no side effect (lost, never ran)", f"{len(never_ran)} {never_ran[:5]}"),
        ("dead jobs with a side effect", str(len(dead_ran))),
        ("stuck-handler jobs, by final state",
         ", ".join(f"{k} {v}" for k, v in sorted(collections.Counter(
             f"{j.state.value}:{j.dead_reason}" for i, j in jobs.items()
             if specs[i].kind == "c_stuck").items())) or "none"),
        ("done jobs that ran once", f"{sum(1 for j in done if len(runs.get(j.id, [])) == 1):,}"),
        ("extra runs of done jobs, by cause",
         "; ".join(f"{n} {why}" for why, n in reasons.most_common()) or "none"),
        ("done jobs with no ack line in any worker log",
         f"{len(unlogged)} ({by_killed} ran in a worker later SIGKILLed: killed between its "
         f"ack and the log line; {len(unlogged) - by_killed} other)"),
        ("jobs with more than one ack the server accepted", f"{len(twice)} {list(twice)[:5]}"),
        ("... of which every earlier ack fell in the last "
         f"{AOF_WINDOW:g} s before the Valkey kill (rolled back)", str(len(rolled_back))),
        ("`completed` counter vs done records",
         f"{stats.get('completed', 0):,} vs {states.get('done', 0):,}"),
        ("leases reaped (crash recoveries)",
         f"{stats.get('reaped:requeue', 0)} requeued, {stats.get('reaped:poison', 0)} poison"),
    ]
    unexpected = sum(n for why, n in reasons.items() if "UNEXPECTED" in why)
    summary = {"jobs": len(ids), "lost": missing + len(never_ran), "stuck": left,
               "double_acked": len(twice) - len(rolled_back),
               "wrongly_dead": sum(1 for i, j in jobs.items() if j.state is JobState.DEAD
                                   and specs[i].kind in HEALTHY),
               "unexpected_reason": len(wrong_dead), "unexplained_runs": unexpected}
    rows.append(("lost / stuck / double-acked / healthy jobs dead",
                 f"{summary['lost']} / {summary['stuck']} / {summary['double_acked']} / "
                 f"{summary['wrongly_dead']}"))
    ok = (missing == 0 and left == 0 and not wrong_dead and not never_ran and not dead_ran
          and unexpected == 0 and len(twice) == len(rolled_back))
    return Findings(rows, ok, summary)


HEALTHY = {"c_noop", "c_sleep"}  # kinds that must never end dead


def expected_reasons(spec: JobSpec) -> set[str]:
    """The dead reasons a job's kind explains: permanent failures, spent retry budgets, and
    for a stuck handler its timeouts or the crash budget of the workers that died holding it."""
    if spec.kind == "c_stuck":
        return {"retries_exhausted", "poison"}
    if spec.kind != "c_fail":
        return set()
    return {"permanent" if spec.payload.get("permanent") else "retries_exhausted"}


def ack_twice(acks: dict[tuple[str, int, int], list[tuple[str, float]]]
              ) -> dict[str, list[float]]:
    """Jobs for which the server accepted more than one ack: job id -> ack times, in order."""
    times: dict[str, list[float]] = collections.defaultdict(list)
    for (job_id, _, _), evs in acks.items():
        times[job_id] += [at for e, at in evs if e == "ack"]
    return {j: sorted(t) for j, t in times.items() if len(t) > 1}
