"""Failover: a primary killed with kill -9 mid-run on Sentinel and Cluster, with and without
``redis.min_replicas_acked: 1``, against one server run the same way.

Per configuration: a fresh queue, 4 ``ingestctl worker`` processes (tests/support/failover_run.py: a
producer keeps a backlog while they work, so enqueues, claims and acks are all in flight at the
kill); once 40% of the jobs have run, the primary serving the queue is SIGKILLed and, once a
replica has taken over, restarted as a replica (as a supervisor would). Then: jobs lost (enqueue
returned, never ran), jobs run more than once, acks accepted twice, time from the kill to half
the rate before it, and the steady rate against the single server's. Before the runs, the cost
of one transition (enqueue, claim, ack of one job, one at a time) is timed on every
configuration in interleaved rounds.

    python bench/failover.py [--quick] [--jobs 20000] [--only single,sentinel,cluster]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))  # the topology helper and the run are shared

from results import command_line, git_rev, load, machine, write_section  # noqa: E402
from support import clusters  # noqa: E402
from support.failover_run import FailoverRun, tuned  # noqa: E402

from ingestq.config import IngestSettings, load_config  # noqa: E402
from ingestq.core.connection import connect  # noqa: E402
from ingestq.core.queue import Queue  # noqa: E402

WORKERS = 4
COST_ROUNDS = 15  # interleaved rounds per configuration
COST_BATCH = 40  # enqueue + claim + ack of one job, this many times per round


def transition_costs(configs: dict[str, IngestSettings], rounds: int) -> dict[str, float]:
    """Median microseconds per transition (enqueue, claim, ack of one job, one at a time) per
    configuration, measured in interleaved rounds so load from other work hits all alike."""
    queues = {name: Queue(connect(s, warn_risks=False), s) for name, s in configs.items()}
    samples: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(rounds):
        for name, q in queues.items():
            started = time.perf_counter()
            for _ in range(COST_BATCH):
                q.enqueue("cost", {})
                job = q.claim("bench", 1, kinds=["cost"]).jobs[0]
                q.ack(job.id, job.token)
            samples[name].append((time.perf_counter() - started) / (3 * COST_BATCH) * 1e6)
    return {name: statistics.median(v) for name, v in samples.items()}


def one_run(name: str, url: str, acked: int, jobs: int, kill: Callable[[Queue], None],
            workdir: Path, base: IngestSettings, cost: float) -> dict[str, object]:
    settings = tuned(base, url, acked=acked)
    run = FailoverRun(settings, workdir, jobs=jobs, kill=kill,
                      workers=WORKERS, kill_at=0.4, timeout=900.0, backlog=2000)
    found = run.run()
    row = {"topology": name, "min_replicas_acked": acked, "cost_us": round(cost, 1),
           **found.as_dict()}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="2,000 jobs")
    parser.add_argument("--only", default="single,sentinel,cluster")
    args = parser.parse_args()
    if args.quick:
        args.jobs = 2_000
    only = set(args.only.split(","))
    base = load_config(environ={}).ingest
    root = Path(tempfile.mkdtemp(prefix="ingestq-failover-"))
    rows: list[dict[str, object]] = []
    started = time.time()
    single = clusters.start_single(root / "single")
    topos = {"Sentinel": clusters.SentinelSet.start(root / "sentinel"),
             "Cluster": clusters.ClusterSet.start(root / "cluster")}
    try:
        urls = {"single server": f"redis://127.0.0.1:{single.port}",
                **{name: t.url() for name, t in topos.items()}}
        configs = {(name, acked): tuned(base, url, acked=acked) for name, url in urls.items()
                   for acked in ((0,) if name == "single server" else (0, 1))}
        costs = transition_costs({f"{n}/{a}": s for (n, a), s in configs.items()}, COST_ROUNDS)
        print(json.dumps(costs), flush=True)
        for (name, acked), _settings in configs.items():
            if name.split()[0].lower() not in only:
                continue
            topo = topos.get(name)
            if topo is not None:
                topo.wait_healthy()
            rows.append(one_run(name, urls[name], acked, args.jobs, _killer(topo), root /
                                f"run-{name.split()[0].lower()}-{acked}", base,
                                costs[f"{name}/{acked}"]))
    finally:
        single.kill()
        for t in topos.values():
            t.stop()
        shutil.rmtree(root, ignore_errors=True)
    (BENCH / "failover_results.json").write_text(json.dumps(rows, indent=1) + "\n")
    write_section("failover", report(rows, args.jobs, time.time() - started))


def _killer(topo: clusters.SentinelSet | clusters.ClusterSet | None) -> Callable[[Queue], None]:
    """kill -9 the primary serving the queue, and restart it as a replica once replaced."""
    def kill(queue: Queue) -> None:
        if topo is None:
            return  # the single server has no replica to fail over to: the baseline
        if isinstance(topo, clusters.SentinelSet):
            victim = topo.primary()
        else:
            victim = topo.primary_for(queue.keys.seq)
        victim.kill()
        threading.Thread(target=topo.heal, args=(victim,), daemon=True).start()
    return kill


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
        "the kill until a 1 s window runs at half that; *transition* the median over "
        f"{COST_ROUNDS} interleaved rounds of the mean time of one enqueue, claim or ack of a "
        "single job, one at a time, round trip included (the configurations take turns, so "
        "other load on the machine falls on all of them alike). "
        "*reissued*: job ids the new primary handed out again because the first enqueue with "
        "that id never reached it (two different jobs; not counted as double acks). *leases "
        "reaped*: leases that ran out, which includes claims whose reply died with the primary "
        "(no worker held them); *held ones*: leases a worker had held since at least 1 s before "
        "the kill that ran out or were reported lost anyway (a failover shorter than the lease "
        "should leave none).",
        "",
        "| topology | min_replicas_acked | confirmed | lost | ran more than once | acks accepted "
        "twice | reissued ids | enqueue calls refused | leases reaped (held ones) | "
        "rate (jobs/s) | vs single | half rate after (s) | transition (us) | vs single | "
        "wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rate, cost = float(r["rate_before"]), float(r["cost_us"])  # type: ignore[arg-type]
        half = r["half_rate_after"]
        lines.append(
            f"| {r['topology']} | {r['min_replicas_acked']} | {r['confirmed']:,} | {r['lost']} | "
            f"{r['ran_twice']} | {r['double_acked']} | {r['reissued']} | {r['refused']} | "
            f"{r['reaped']} ({r['held_leases_lost']}) | "
            f"{rate:.0f} | {rate / base_rate if base_rate else 0:.2f} | "
            f"{_half(r, half)} | {cost:.0f} | "
            f"{cost / base_cost if base_cost else 0:.2f} | {float(r['wall']):.0f} |")  # type: ignore[arg-type]
    lines += ["", "The single server is not killed (it has no replica to fail over to); its row "
              "is the baseline for rate and transition cost. Raw figures: "
              "`bench/failover_results.json`."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
