"""Failover: a primary killed with kill -9 mid-run on Sentinel and Cluster, with and without
``redis.min_replicas_acked: 1``, against one server run the same way.

Per configuration: a fresh queue, 4 ``ingestctl worker`` processes (tests/failover_run.py: a
producer keeps a backlog while they work, so enqueues, claims and acks are all in flight at the
kill); once 40% of the jobs have run, the primary serving the queue is SIGKILLed and, once a
replica has taken over, restarted as a replica (as a supervisor would). Then: jobs lost (enqueue
returned, never ran), jobs run more than once, acks accepted twice, time from the kill to half
the rate before it, and the steady rate against the single server's. Before each run, the cost
of one transition (enqueue, claim, ack of one job, one at a time) is timed on the same topology.

    python bench/failover.py [--jobs 20000] [--only sentinel,cluster]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))  # the topology helper and the run are shared

import clusters  # noqa: E402
from failover_run import FailoverRun, tuned  # noqa: E402
from results import command_line, git_rev, load, machine, write_section  # noqa: E402

from ingestq.config import IngestSettings, load_config  # noqa: E402
from ingestq.connection import connect  # noqa: E402
from ingestq.queue import Queue  # noqa: E402

WORKERS = 4
COST_ROUNDS = 300  # enqueue + claim + ack rounds timed per configuration


def transition_cost_us(settings: IngestSettings) -> float:
    """Mean microseconds per transition, one job at a time (enqueue, claim, ack)."""
    q = Queue(connect(settings, warn_risks=False), settings)
    started = time.perf_counter()
    for _ in range(COST_ROUNDS):
        q.enqueue("cost", {})
        job = q.claim("bench", 1, kinds=["cost"]).jobs[0]
        q.ack(job.id, job.token)
    return (time.perf_counter() - started) / (3 * COST_ROUNDS) * 1e6


def one_run(name: str, url: str, acked: int, jobs: int, kill: object, workdir: Path,
            base: IngestSettings) -> dict[str, object]:
    settings = tuned(base, url, acked=acked)
    cost = transition_cost_us(tuned(base, url, acked=acked))
    run = FailoverRun(settings, workdir, jobs=jobs, kill=kill,  # type: ignore[arg-type]
                      workers=WORKERS, kill_at=0.4, timeout=900.0, backlog=2000)
    found = run.run()
    row = {"topology": name, "min_replicas_acked": acked, "cost_us": round(cost, 1),
           **found.as_dict()}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--only", default="single,sentinel,cluster")
    args = parser.parse_args()
    only = set(args.only.split(","))
    base = load_config(environ={}).ingest
    root = Path(tempfile.mkdtemp(prefix="ingestq-failover-"))
    rows: list[dict[str, object]] = []
    started = time.time()
    try:
        if "single" in only:
            node = clusters.start_single(root / "single")
            try:
                rows.append(one_run("single server", f"redis://127.0.0.1:{node.port}", 0,
                                    args.jobs, lambda q: None, root / "run-single", base))
            finally:
                node.kill()
        if "sentinel" in only:
            s = clusters.SentinelSet.start(root / "sentinel")
            try:
                for acked in (0, 1):
                    s.wait_healthy()

                    def kill_s(q: Queue, s: clusters.SentinelSet = s) -> None:
                        victim = s.primary()
                        victim.kill()
                        _heal_later(s, victim)

                    rows.append(one_run("Sentinel", s.url(), acked, args.jobs, kill_s,
                                        root / f"run-sentinel-{acked}", base))
            finally:
                s.stop()
        if "cluster" in only:
            c = clusters.ClusterSet.start(root / "cluster")
            try:
                for acked in (0, 1):
                    c.wait_healthy()

                    def kill_c(q: Queue, c: clusters.ClusterSet = c) -> None:
                        victim = c.primary_for(q.keys.seq)
                        victim.kill()
                        _heal_later(c, victim)

                    rows.append(one_run("Cluster", c.url(), acked, args.jobs, kill_c,
                                        root / f"run-cluster-{acked}", base))
            finally:
                c.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    (BENCH / "failover_results.json").write_text(json.dumps(rows, indent=1) + "\n")
    write_section("failover", report(rows, args.jobs, time.time() - started))


def _heal_later(topo: clusters.SentinelSet | clusters.ClusterSet, victim: clusters.Node) -> None:
    import threading
    threading.Thread(target=topo.heal, args=(victim,), daemon=True).start()


def _half(row: dict[str, object], half: object) -> str:
    if row["topology"] == "single server":
        return "-"  # not killed
    return "never" if half is None else f"{float(half):.1f}"  # type: ignore[arg-type]


def report(rows: list[dict[str, object]], jobs: int, seconds: float) -> str:
    single = next((r for r in rows if r["topology"] == "single server"), None)
    base_rate = float(single["rate_before"]) if single else 0.0  # type: ignore[arg-type]
    base_cost = float(single["cost_us"]) if single else 0.0  # type: ignore[arg-type]
    lines = [
        "## Failover (kill -9 of a primary mid-run)",
        "",
        f"`{command_line()}` at {git_rev()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f"; {machine()}; {load()}; {seconds:.0f} s in all.",
        "",
        f"{jobs:,} `effect` jobs (one side-effect line each), {WORKERS} `ingestctl worker` "
        "processes (8 handler threads each), lease 8 s, beats 0.5 s, reaper every 0.5 s; "
        "Debian redis-server 7.0.15, no persistence (replication is what is measured), "
        "Sentinel and Cluster calling a node down after 1 s. The primary serving the queue is "
        "SIGKILLed once 40% of the jobs have run and restarted as a replica once another node "
        "took over. *rate* is jobs/s over the 5 s before the kill; *half rate* the seconds from "
        "the kill until a 1 s window runs at half that; *transition* the mean time of one "
        "enqueue, claim or ack of a single job, one at a time (round trip included). "
        "*reissued*: job ids the new primary handed out again because the first enqueue with "
        "that id never reached it (two different jobs; not counted as double acks).",
        "",
        "| topology | min_replicas_acked | confirmed | lost | ran more than once | acks accepted "
        "twice | reissued ids | enqueue calls refused | rate (jobs/s) | vs single | half rate "
        "after (s) | transition (us) | vs single | wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rate, cost = float(r["rate_before"]), float(r["cost_us"])  # type: ignore[arg-type]
        half = r["half_rate_after"]
        lines.append(
            f"| {r['topology']} | {r['min_replicas_acked']} | {r['confirmed']:,} | {r['lost']} | "
            f"{r['ran_twice']} | {r['double_acked']} | {r['reissued']} | {r['refused']} | "
            f"{rate:.0f} | {rate / base_rate if base_rate else 0:.2f} | "
            f"{_half(r, half)} | {cost:.0f} | "
            f"{cost / base_cost if base_cost else 0:.2f} | {float(r['wall']):.0f} |")  # type: ignore[arg-type]
    lines += ["", "The single server is not killed (it has no replica to fail over to); its row "
              "is the baseline for rate and transition cost. Raw figures: "
              "`bench/failover_results.json`."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
