"""The peers section of bench/RESULTS.md: drain table, recovery table, versions, machine."""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass, field

from recovery import Outcome
from results import command_line, git_rev, machine, write_section
from systems import System
from throughput import Drain

ENQUEUE_HOW = {
    "ingestq": "Queue.enqueue_many (one script per 500 jobs)",
    "rq": "Queue.enqueue_many (one pipeline)",
    "arq": "enqueue_job, 500 concurrent (no batch API)",
    "dramatiq": "actor.send, one at a time (no batch API)",
    "celery": "task.delay, one at a time (no batch API)",
    "saq": "queue.enqueue, 500 concurrent (no batch API)",
    "taskiq": "task.kiq, 500 concurrent (no batch API)",
    "streaq": "worker.enqueue_many, 500 per call",
}


@dataclass
class Row:
    """One system's drain figures: (a), the (b) candidates, or why it has none."""

    default_label: str
    default: Drain | None
    tuned: list[tuple[str, Drain]] = field(default_factory=list)
    error: str = ""

    def best(self) -> tuple[str, Drain] | None:
        """The (b) candidate with the highest steady drain rate."""
        return max(self.tuned, key=lambda t: t[1].steady, default=None)


@dataclass(frozen=True)
class Facts:
    """What the run was."""

    n: int
    repeats: int
    cap: float
    redis: str
    started: float
    versions: dict[str, str]


def versions(systems: list[System]) -> dict[str, str]:
    """Each system's package version, read in its own interpreter."""
    out = {}
    for s in systems:
        code = f"from importlib.metadata import version; print(version({s.package!r}))"
        res = subprocess.run([str(s.python), "-c", code], capture_output=True, text=True,
                             check=False)
        out[s.name] = res.stdout.strip() or "?"
    peers = [s for s in systems if s.name != "ingestq"]
    if peers:
        code = "from importlib.metadata import version; print(version('redis'))"
        res = subprocess.run([str(peers[0].python), "-c", code], capture_output=True,
                             text=True, check=False)
        out["redis-py (peers)"] = res.stdout.strip()
    return out


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def drain_table(rows: dict[str, Row]) -> list[str]:
    """Markdown lines of the drain table."""
    lines = ["| system | enqueue jobs/s (how) | (a) config | (a) drain/s steady | (a) drain/s "
             "wall | (b) best config | (b) drain/s steady | (b) drain/s wall |",
             "|---|---|---|---:|---:|---|---:|---:|"]
    for name, r in rows.items():
        if r.default is None:
            lines.append(f"| {name} | {r.error} | | | | | | |")
            continue
        best = r.best()
        b_label, b = best if best else ("-", None)
        lines.append(
            f"| {name} | {_fmt(r.default.enqueue)} ({ENQUEUE_HOW.get(name, '')}) | "
            f"{r.default_label} | {_fmt(r.default.steady)} | {_fmt(r.default.wall)} | "
            f"{b_label} | {_fmt(b.steady if b else None)} | {_fmt(b.wall if b else None)} |")
    return lines


def candidates(rows: dict[str, Row], n: int) -> list[str]:
    """Every (b) candidate, and any run that did not count exactly n completions."""
    out = []
    for name, r in rows.items():
        for label, d in r.tuned:
            flag = "" if d.done == n else f" (counted {d.done} of {n})"
            out.append(f"{name} [{label}]: {d.steady:,.0f}/s steady, {d.wall:,.0f}/s wall{flag}")
        if r.default and r.default.done != n:
            out.append(f"{name} [(a)]: counted {r.default.done} of {n}")
    return out


def goals(rows: dict[str, Row], rec: dict[str, Outcome]) -> list[str]:
    """The issue's goals against what this run measured."""
    def best_of(r: Row, attr: str) -> float:
        vals = [getattr(d, attr) for d in [r.default, *(d for _, d in r.tuned)] if d]
        return max(vals, default=0.0)

    out = []
    if "ingestq" in rows:
        for attr in ("steady", "wall"):
            iq = best_of(rows["ingestq"], attr)
            peers = {k: best_of(v, attr) for k, v in rows.items() if k != "ingestq"}
            if peers:
                top = max(peers, key=lambda k: peers[k])
                ratio = iq / peers[top] if peers[top] else float("inf")
                verdict = "met" if ratio >= 1.5 else "missed"
                out.append(f"- Drain ({attr}), best configuration of each: ingestq {iq:,.0f}/s "
                           f"vs fastest peer {top} {peers[top]:,.0f}/s = {ratio:.2f}x; goal "
                           f">= 1.5x: **{verdict}**.")
    for label, limit in (("ingestq", 15.0), ("ingestq short lease", 3.0)):
        if label in rec:
            s = rec[label].seconds
            verdict = "met" if s is not None and s <= limit else "missed"
            out.append(f"- Recovery, {label}: {_secs(rec[label])}; goal <= {limit:.0f} s: "
                       f"**{verdict}**.")
    return out


def _secs(o: Outcome) -> str:
    return f"{o.seconds:.1f} s" if o.seconds is not None else o.note


def render(rows: dict[str, Row], rec: dict[str, Outcome], f: Facts) -> str:
    """The whole section."""
    when = dt.datetime.fromtimestamp(f.started, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    vers = ", ".join(f"{k} {v}" for k, v in f.versions.items())
    lines = [
        "## Peer benchmark (issue 3)", "",
        f"`{command_line()}` at {git_rev()} on {when}. {machine()}. Debian redis-server "
        f"{f.redis} on TCP localhost, no persistence, started by the script. Versions: {vers}.",
        "",
        f"Drain: {f.n:,} no-op jobs, median of {f.repeats} run(s), db flushed between runs. "
        "Each no-op INCRs a Redis counter (same cost in every system); completion is the "
        "counter reaching N. *steady* = (N-1) / (last - first completion); *wall* = N / "
        "(last completion - worker spawn), i.e. with worker start-up. "
        "(a) one worker process at default settings; (b) the best of the listed candidates "
        "on 2 cores.", "",
        *drain_table(rows), "",
        "(b) candidates: " + "; ".join(candidates(rows, f.n)) + ".", "",
    ]
    if rec:
        lines += [f"Recovery: one 20 s job, worker SIGKILLed (whole process group) once the job "
                  f"wrote its start marker, a fresh worker started at once; all trials in "
                  f"parallel, each on its own db; cap {f.cap:.0f} s. Default settings except "
                  "where noted.", "",
                  "| system | kill -> second start |", "|---|---:|"]
        lines += [f"| {k} | {_secs(v)} |" for k, v in rec.items()]
        lines.append("")
    lines += ["Goals:", *goals(rows, rec)]
    return "\n".join(lines)


def write(text: str) -> None:
    """Replace the peers section of bench/RESULTS.md."""
    write_section("peers", text)
