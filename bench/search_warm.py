"""`ingestctl search` with MiniLM against a warm service, and the service's own answer time.

    nice -n 10 python bench/search_warm.py [--queries 20]

Needs the MiniLM store bench/retrieval.py builds (``.ingestq/bench/minilm``). Starts
``ingestctl serve`` on a spare port over that store, warms it with one query, then times the same
golden queries three ways: GET /search (the service's work plus one loopback round trip), the
CLI asking the service (what a user types), and the CLI in process with ``--local`` (a fresh
model load per call, for contrast). Writes the "search_warm" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from results import command_line, git_rev, load, machine, write_section  # noqa: E402

from ingestq.ingest.eval_metrics import percentile  # noqa: E402
from ingestq.ingest.eval_run import load_golden  # noqa: E402

DATA = HERE.parent / ".ingestq" / "bench"
CTL = str(Path(sys.executable).with_name("ingestctl"))


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timed(run: list[str], env: dict[str, str]) -> float:
    """Milliseconds of one CLI call."""
    started = time.perf_counter()
    subprocess.run(run, env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    """Measure and write the section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--local-queries", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    config = DATA / "minilm-serve.yaml"
    config.write_text(f"ingest:\n  data_dir: {DATA / 'minilm-serve'}\n  service:\n"
                      f"    port: {port}\n  pipeline:\n"
                      f"    embedder: {{kind: sentence-transformers}}\n"
                      f"    store: {{sqlite_path: {DATA / 'minilm' / 'ingest.sqlite3'}}}\n")
    # Byte code cached, as after an install (this sandbox sets PYTHONDONTWRITEBYTECODE).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("INGESTQ_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["INGESTQ_CONFIG"] = str(config)
    queries = [q.query for q in load_golden(HERE / "golden" / "fastapi-en.jsonl")]
    service = subprocess.Popen([CTL, "serve"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/search?"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "q=warm", timeout=60).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        http: list[float] = []
        for query in queries[: args.queries]:
            started = time.perf_counter()
            body = urllib.request.urlopen(url + urllib.parse.urlencode({"q": query}),
                                          timeout=60).read()
            http.append((time.perf_counter() - started) * 1000)
            json.loads(body)
        timed([CTL, "search", "--json", "warm"], env)  # writes the byte code once
        cli = [timed([CTL, "search", "--json", q], env) for q in queries[: args.queries]]
        local = [timed([CTL, "search", "--json", "--local", q], env)
                 for q in queries[: args.local_queries]]
    finally:
        service.terminate()
        service.wait(30)
    lines = [
        "## Search latency with MiniLM and a warm service (issue 14)\n",
        f"`{command_line()}` at {git_rev()} on {time.strftime('%Y-%m-%d')}; {machine()}; "
        f"{load()}.\n",
        "| path | queries | P50 ms | P95 ms |", "|---|---:|---:|---:|",
        f"| GET /search on the warm service | {len(http)} | {percentile(http, 50):.0f} | "
        f"{percentile(http, 95):.0f} |",
        f"| `ingestctl search --json`, service running | {len(cli)} | "
        f"{percentile(cli, 50):.0f} | {percentile(cli, 95):.0f} |",
        f"| `ingestctl search --json --local` (model loaded per call) | {len(local)} | "
        f"{percentile(local, 50):.0f} | {percentile(local, 95):.0f} |",
        f"\nGoal: CLI P95 under 300 ms with a warm process: "
        f"{'met' if percentile(cli, 95) < 300 else 'missed'}.",
    ]
    print("\n".join(lines))
    write_section("search_warm", "\n".join(lines))


if __name__ == "__main__":
    main()
