"""ingestq against RQ, arq, Dramatiq, Celery, SAQ, taskiq-redis and streaq: one server, one run.

    python bench/peers/run.py [--quick] [--only ingestq,rq] [--skip-recovery]

Starts /usr/bin/redis-server on a spare port (no persistence), measures enqueue and drain
rates of 10,000 counting no-ops per system (median of 3), then the kill-and-restart recovery
of one 20 s job for every system in parallel, and writes the peers section of bench/RESULTS.md.
Peers run from bench/peers/.venv (see README.md); ingestq from the interpreter running this.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import recovery  # noqa: E402
import report  # noqa: E402
import throughput  # noqa: E402
from server import Server  # noqa: E402
from systems import System, build  # noqa: E402

SHORT_LEASE = {"INGESTQ_QUEUE_RECOVERY__LEASE_SECONDS": "1",
               "INGESTQ_QUEUE_RECOVERY__HEARTBEAT_SECONDS": "0.3",
               "INGESTQ_QUEUE_RECOVERY__REAPER_INTERVAL_SECONDS": "0.5"}


def parse() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2,000 jobs, 1 run, 120 s recovery cap")
    p.add_argument("--only", default="", help="comma-separated systems (default: all)")
    p.add_argument("--skip-recovery", action="store_true")
    return p.parse_args()


def drains(server: Server, systems: list[System], n: int, repeats: int
           ) -> dict[str, report.Row]:
    """Configuration (a) and every (b) candidate of each system; keep the best (b)."""
    rows: dict[str, report.Row] = {}
    for s in systems:
        try:
            a = throughput.measure(server, s, s.default, n, repeats)
            tuned = [(c.label, throughput.measure(server, s, c, n, repeats)) for c in s.tuned]
            rows[s.name] = report.Row(s.default.label, a, tuned)
        except Exception as exc:
            print(f"  {s.name}: {exc}", flush=True)
            rows[s.name] = report.Row(s.default.label, None, [], f"error: {exc}"[:300])
    return rows


def trials(systems: list[System]) -> list[recovery.Trial]:
    """One trial per system at default settings, plus ingestq with a short lease."""
    out = [recovery.Trial(s.name, s, db, {}) for db, s in enumerate(systems, start=1)]
    iq = [s for s in systems if s.name == "ingestq"]
    if iq:
        out.append(recovery.Trial("ingestq short lease", iq[0], len(systems) + 1, SHORT_LEASE))
    return out


def main() -> None:
    """Run everything against one server, then write the section."""
    args = parse()
    n, repeats, cap = (2000, 1, 120.0) if args.quick else (10_000, 3, 600.0)
    systems = build()
    if args.only:
        wanted = set(args.only.split(","))
        systems = [s for s in systems if s.name in wanted]
    server = Server()
    server.start()
    started = time.time()
    try:
        print(f"redis-server {server.version()} on port {server.port}", flush=True)
        rows = drains(server, systems, n, repeats)
        rec = {} if args.skip_recovery else recovery.run_all(server, trials(systems), cap)
        facts = report.Facts(n=n, repeats=repeats, cap=cap, redis=server.version(),
                             started=started, versions=report.versions(systems))
    finally:
        server.stop()
    text = report.render(rows, rec, facts)
    print(text)
    report.write(text)


if __name__ == "__main__":
    main()
