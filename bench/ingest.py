"""Benchmark of issue 6: ingest the fastapi-docs corpus through the real queue, then compare.

Measures, on the embedded default, for each embedder (hashing, MiniLM) and 1 and 2 worker
processes: files/s, sections/s, chunks/s, wall time, dead jobs and peak RSS per worker; the
re-ingest of the unchanged corpus; the pipeline's overhead over the embedder alone; and where the
pipeline's time goes, step by step. Raw figures go to ``bench/ingest_results.json``, the report
to the ingest section of ``bench/RESULTS.md``.

    python bench/ingest.py                    # everything, tests/corpus/fastapi-docs
    python bench/ingest.py --corpus PATH      # a larger folder (1,395 files: ~35-45 min)
    python bench/ingest.py --quick            # the `en` subset only (~5 min)
    python bench/ingest.py --embedders hashing --workers 1
    python bench/ingest.py --render-only      # rewrite RESULTS.md from the saved JSON

With several workers and MiniLM, each worker's torch pool gets cores / workers threads
(OMP_NUM_THREADS), so two workers do not fight over two cores with four threads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_inproc import batching_shapes, collect_texts, embed_alone, step_times
from ingest_queue import drain, reingest_cli, stop_server
from ingest_report import comparable, render, replace_section

BENCH = Path(__file__).resolve().parent
# the corpus kept with the tests (tests/corpus/README.md); --corpus for a larger folder
DEFAULT_CORPUS = BENCH.parent / "tests" / "corpus" / "fastapi-docs"
KINDS = {"hashing": "hashing", "minilm": "sentence-transformers"}
GOAL_OVERHEAD = 0.15
GOAL_REINGEST = 0.05


def machine() -> dict[str, Any]:
    """Facts about this machine and the software measured."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH, text=True,
                            capture_output=True, check=False).stdout.strip()

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "absent"

    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_kib / 2**20,
            "python": platform.python_version(), "torch": version("torch"),
            "sentence_transformers": version("sentence-transformers"),
            "sqlite": sqlite3.sqlite_version, "commit": commit or "unknown"}


def threads_for(kind: str, workers: int) -> int | None:
    """torch threads per worker: the cores shared out; None for the model-free embedder."""
    if kind != "sentence-transformers":
        return None
    return max(1, (os.cpu_count() or 1) // workers)


def queue_runs(data: dict[str, Any], kind: str, workers: list[int], corpus: list[str],
               args: argparse.Namespace, save: Any) -> None:
    """First ingest and re-ingest of the corpus, per worker count, each on a fresh data dir."""
    conc = args.concurrency
    for count in workers:
        key = f"{kind}/{count}w" + (f"/c{conc}" if conc else "")
        data_dir = Path(tempfile.mkdtemp(prefix=f"ingest-bench-{count}w-", dir="/tmp"))
        try:
            threads = threads_for(kind, count)
            print(f"[{key}] first run in {data_dir}", flush=True)
            data["runs"][key] = drain("first", data_dir, kind, count, threads, corpus,
                                      conc).to_dict()
            save()
            print(f"[{key}] re-ingest: ingestctl ingest", flush=True)
            data["runs"][key + "/re"] = reingest_cli("re", data_dir, kind, count, threads,
                                                     corpus).to_dict()
            save()
            print(f"[{key}] re-ingest: every job enqueued anyway", flush=True)
            data["runs"][key + "/rejobs"] = drain("rejobs", data_dir, kind, count, threads,
                                                  corpus, conc).to_dict()
            save()
        finally:
            stop_server(data_dir)
            if not args.keep:
                shutil.rmtree(data_dir, ignore_errors=True)


def verdicts(data: dict[str, Any]) -> list[str]:
    """One sentence per goal: met or missed, with the figure."""
    lines = []
    for kind in data.get("alone", {}):
        run = data["runs"].get(f"{kind}/1w")
        if run and not comparable(data, kind, run):
            alone_chunks = data["alone"][kind].get("chunks", data["corpus"].get("chunks", 0))
            lines.append(f"- Overhead, {KINDS_BACK[kind]}: not measured for this chunking (the "
                         f"embedder-alone figure is of {alone_chunks:,} "
                         f"chunks, the run made {run['chunks']:,}): rerun with --parts alone.")
        elif run:
            over = run["wall_seconds"] / data["alone"][kind]["embed_seconds"] - 1
            goal = " (goal: under 15%)" if kind == "sentence-transformers" else ""
            met = "met" if over < GOAL_OVERHEAD else "missed"
            lines.append(f"- Overhead, {KINDS_BACK[kind]}, 1 worker end to end: "
                         f"{100 * over:+.1f}%{goal}: {met if goal else 'for reference'}.")
    for key, r in data["runs"].items():
        if key.endswith("/re"):
            first = data["runs"][key.removesuffix("/re")]
            share = r["wall_seconds"] / first["wall_seconds"]
            how = ("`ingestctl ingest`" if "unchanged_at_enqueue" in r
                   else "jobs enqueued again (before `ingestctl ingest` checked)")
            lines.append(f"- Re-ingest, {key.removesuffix('/re')}, {how}: {100 * share:.1f}% of "
                         f"the first run's wall time: "
                         f"{'met' if share < GOAL_REINGEST else 'missed'}.")
    return lines


KINDS_BACK = {v: k for k, v in KINDS.items()}


def write_report(json_paths: list[Path], results_md: Path) -> None:
    """Render the ingest section from every saved figures file, verdicts and analysis added."""
    datasets = [json.loads(p.read_text()) for p in json_paths if p.exists()]
    notes = ["### Verdicts", ""]
    for data in datasets:
        notes += [f"`{data['corpus_path']}`:", "", *verdicts(data), ""]
    analysis = BENCH / "ingest_analysis.md"
    if analysis.exists():
        notes += [analysis.read_text(encoding="utf-8").rstrip("\n"), ""]
    replace_section(results_md, render(datasets, notes))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="Folder of documents.")
    p.add_argument("--quick", action="store_true", help="Only the corpus's `en` folder.")
    p.add_argument("--embedders", default="hashing,minilm", help="hashing,minilm")
    p.add_argument("--workers", default="1,2", help="Worker process counts, e.g. 1,2")
    p.add_argument("--parts", default="queue,alone,steps",
                   help="Which measurements: queue (runs + re-ingest), alone, steps, batching "
                   "(embedder calls of 1 vs 8 documents)")
    p.add_argument("--json", default=None,
                   help="Raw figures (default: bench/ingest_results[_quick].json).")
    p.add_argument("--results", default=str(BENCH / "RESULTS.md"), help="Report file.")
    p.add_argument("--merge", action="store_true",
                   help="Keep figures already in --json that this run does not measure.")
    p.add_argument("--render-only", action="store_true", help="Only rewrite the report.")
    p.add_argument("--concurrency", type=int, default=None,
                   help="Handler threads per worker (default: the configured 8).")
    p.add_argument("--keep", action="store_true", help="Keep the /tmp data directories.")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected measurements, save the figures, write the report."""
    args = parse_args(argv)
    results_md = Path(args.results)
    saved = [BENCH / "ingest_results.json", BENCH / "ingest_results_quick.json"]
    json_path = Path(args.json) if args.json else saved[1 if args.quick else 0]
    if args.render_only:
        write_report([json_path] if args.json else saved, results_md)
        return 0
    corpus = str(Path(args.corpus) / "en") if args.quick else args.corpus
    old = json.loads(json_path.read_text()) if args.merge and json_path.exists() else {}
    command = "python bench/ingest.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    data: dict[str, Any] = {
        # --merge keeps earlier figures, so the report names every command that made them
        "commands": [*old.get("commands", []), command],
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
        "corpus_path": corpus, "runs": old.get("runs", {}), "alone": old.get("alone", {}),
        "steps": old.get("steps", {}), "corpus": old.get("corpus", {}),
        "batching": old.get("batching", {})}

    def save() -> None:
        json_path.write_text(json.dumps(data, indent=1) + "\n")

    kinds = [KINDS[k] for k in args.embedders.split(",")]
    parts = set(args.parts.split(","))
    if parts & {"alone"}:
        texts = collect_texts([corpus])
        data["corpus"] = {"files": texts.files, "sections": texts.sections,
                          "chunks": texts.chunks, "distinct_texts": len(texts.texts),
                          "parse_seconds": round(texts.parse_seconds, 3),
                          "refused": texts.dead}
        for kind in kinds:
            # Chunks follow the embedder's input limit: embed what that embedder's workers embed.
            mine = texts if kind == "hashing" else collect_texts([corpus], kind)
            print(f"[{kind}] embedder alone on {len(mine.texts)} texts", flush=True)
            data["alone"][kind] = {**embed_alone(kind, mine.texts).to_dict(),
                                   "chunks": mine.chunks}
            save()
    for kind in kinds:
        if "steps" in parts:
            print(f"[{kind}] in-process steps", flush=True)
            with tempfile.TemporaryDirectory(prefix="ingest-bench-steps-", dir="/tmp") as tmp:
                data["steps"][kind] = step_times(kind, [corpus], Path(tmp))
            save()
        if "batching" in parts:
            print(f"[{kind}] batching shapes", flush=True)
            data.setdefault("batching", {})[kind] = batching_shapes(kind, [corpus])
            save()
        if "queue" in parts:
            queue_runs(data, kind, [int(w) for w in args.workers.split(",")], [corpus],
                       args, save)
    save()
    write_report([json_path] if args.json else saved, results_md)
    print(results_md.read_text(encoding="utf-8").split("<!-- ingest:start -->")[1][:6000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
