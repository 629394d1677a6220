"""Retrieval quality and speed: ingestq's search against the baselines, on the golden set.

    nice -n 10 python bench/retrieval.py [--embedders hashing,minilm] [--cli-queries 10]

For each embedder the English FastAPI docs are ingested once into ``.ingestq/bench/<embedder>``
(the embedding cache there makes reruns cheap), then every configuration answers every golden
query over the same chunks: ingestq's default search, its two inputs alone, a sweep of the
fusion weight (the numbers that chose ingestq.ingest.fusion's defaults), and the baselines of
bench/retrieval_rankers.py. Latency is per query, in process, after one warm-up query; the CLI
figure is ``ingestctl search --json`` as a fresh process. Writes the "retrieval" section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingestq.threads import one_blas_thread  # noqa: E402

one_blas_thread()  # as every ingestctl process does, before numpy loads

from results import command_line, git_rev, load, machine, write_section  # noqa: E402
from retrieval_rankers import (  # noqa: E402
    CANDIDATES,
    Chunks,
    Ranker,
    bm25s_ranker,
    dense_ranker,
    plain_rrf,
)

from ingestq.ingest.eval_local import known_targets, pipeline_search  # noqa: E402
from ingestq.ingest.eval_metrics import percentile  # noqa: E402
from ingestq.ingest.eval_run import EvalReport, SearchFn, load_golden, run_eval  # noqa: E402
from ingestq.ingest.fusion import fusion_weight  # noqa: E402
from ingestq.ingest.pipeline import Pipeline  # noqa: E402
from ingestq.ingest.search import lexical_ranking, nearest, search, vector_ranking  # noqa: E402
from ingestq.ingest.settings import EmbedderSettings, PipelineSettings  # noqa: E402

# The golden set is judged on the English pages kept with the tests (tests/corpus/README.md).
CORPUS = HERE.parent / "tests" / "corpus" / "fastapi-docs" / "en"
GOLDEN = HERE / "golden" / "fastapi-en.jsonl"
EMBEDDERS = {
    "hashing": EmbedderSettings(),
    "minilm": EmbedderSettings(kind="sentence-transformers"),
}
SWEEP = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0)
K = 10
Row = tuple[str, EvalReport]


def open_ingested(kind: str, data: Path) -> tuple[Pipeline, float]:
    """The pipeline of ``kind`` with the corpus ingested (unchanged files skipped)."""
    pipeline = Pipeline.open(PipelineSettings(embedder=EMBEDDERS[kind]), data / kind)
    # Only this corpus: a store left by a run over another copy (the corpus moved) would rank
    # each page twice. The embedding cache stays, so nothing is embedded again.
    for document_id, path in pipeline.manifest.source_paths().items():
        if not Path(path).is_relative_to(CORPUS):
            pipeline.delete_document(document_id)
    started = time.perf_counter()
    for path in sorted(CORPUS.rglob("*.md")):
        pipeline.ingest_file(str(path))
    return pipeline, time.perf_counter() - started


def ranked(chunks: Chunks, ranker: Ranker) -> SearchFn:
    """A ranker as a SearchFn: one hit per section, like search()."""
    return lambda query, k: chunks.hits(ranker(query, CANDIDATES), k)


def evaluate(name: str, search_fn: SearchFn, known: dict[str, frozenset[str]]) -> Row:
    """Run the golden set through ``search_fn`` after one warm-up query."""
    search_fn("warm up", K)
    return name, run_eval(load_golden(GOLDEN), search_fn, k=K, known=known)


def configurations(pipeline: Pipeline, kind: str) -> list[tuple[str, SearchFn]]:
    """Every configuration measured for one embedder, ingestq's first."""
    chunks = Chunks(pipeline, CORPUS)
    dense, _ = dense_ranker(pipeline)
    bm25 = bm25s_ranker(chunks)
    weight = fusion_weight(pipeline.settings)

    def weighted(w: float) -> SearchFn:
        return pipeline_search(pipeline, CORPUS, lambda p, q, k: search(p, q, k, vector_weight=w))

    configs: list[tuple[str, SearchFn]] = [
        (f"ingestq default, {kind} (vector weight {weight:g})", pipeline_search(pipeline, CORPUS)),
        ("ingestq FTS5 alone", ranked(chunks, lambda q, n: lexical_ranking(pipeline, q, n))),
        (f"ingestq {kind} vectors alone",
         ranked(chunks, lambda q, n: vector_ranking(pipeline, q, n))),
        (f"ingestq FTS5 + {kind} vectors, plain RRF (the old fusion)",
         ranked(chunks, plain_rrf(lambda q, n: lexical_ranking(pipeline, q, n),
                                  lambda q, n: vector_ranking(pipeline, q, n)))),
        ("baseline BM25 (bm25s)", ranked(chunks, bm25)),
        (f"baseline {kind} dense alone (numpy)", ranked(chunks, dense)),
        (f"baseline bm25s + {kind} dense, plain RRF", ranked(chunks, plain_rrf(bm25, dense))),
    ]
    configs += [(f"sweep: ingestq vector weight {w:g}", weighted(w)) for w in SWEEP]
    return configs


def vector_speed(pipeline: Pipeline, queries: int = 200) -> tuple[float, float]:
    """Median seconds of ingestq's in-process nearest() and of a numpy brute force, same vectors."""
    _, brute = dense_ranker(pipeline)
    ids, matrix = pipeline.manifest.vectors(pipeline.embedder_name)
    probes = matrix[: min(queries, len(ids))]
    nearest(pipeline, probes[0], CANDIDATES)  # loads the cached matrix
    ours: list[float] = []
    for probe in probes:
        started = time.perf_counter()
        nearest(pipeline, probe, CANDIDATES)
        ours.append(time.perf_counter() - started)
    theirs = [brute() for _ in probes]
    return percentile(ours, 50), percentile(theirs, 50)


def cli_latency(kind: str, data: Path, count: int) -> tuple[float, float]:
    """P50/P95 milliseconds of `ingestctl search --json` as a fresh process per query."""
    config = data / f"{kind}.yaml"
    embedder = "{kind: sentence-transformers}" if kind == "minilm" else "{kind: hashing}"
    config.write_text(f"ingest:\n  data_dir: {data / kind}\n  pipeline:\n"
                      f"    embedder: {embedder}\n")
    queries = [q.query for q in load_golden(GOLDEN)][:count]
    ctl = Path(sys.executable).with_name("ingestctl")
    env = {**os.environ, "INGESTQ_CONFIG": str(config)}
    millis: list[float] = []
    for query in queries:
        started = time.perf_counter()
        subprocess.run([str(ctl), "search", "--json", query], env=env, check=True,
                       capture_output=True)
        millis.append((time.perf_counter() - started) * 1000)
    return percentile(millis, 50), percentile(millis, 95)


def table(rows: list[Row]) -> list[str]:
    """Markdown rows: page and section metrics and in-process latency per configuration."""
    lines = ["| configuration | page nDCG@10 | page R@10 | page MRR@10 | page S@1 | "
             "section nDCG@10 | section R@10 | paraphrase page nDCG@10 | P50 ms | P95 ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        page, section = r.overall["page"], r.overall["section"]
        para = r.by_type.get("paraphrase", {}).get("page")
        lines.append(
            f"| {name} | {page.ndcg:.3f} | {page.recall:.3f} | {page.mrr:.3f} | "
            f"{page.success_at_1:.3f} | {section.ndcg:.3f} | {section.recall:.3f} | "
            f"{para.ndcg if para else 0:.3f} | {r.latency_ms['p50']:.1f} | "
            f"{r.latency_ms['p95']:.1f} |")
    return lines


def run_embedder(kind: str, data: Path, cli_queries: int, say: Callable[[str], None]) -> None:
    """Measure one embedder's configurations and speed, reporting through ``say``."""
    pipeline, ingest_seconds = open_ingested(kind, data)
    known = dict(known_targets(pipeline, CORPUS))
    rows = [evaluate(name, fn, known) for name, fn in configurations(pipeline, kind)]
    say(f"\n### {kind}\n")
    say(f"Store: {pipeline.manifest.stats()['chunks']} chunks; ingest pass {ingest_seconds:.1f}"
        " s (unchanged files skipped, vectors from the embedding cache).\n")
    say("\n".join(table(rows)))
    ours, brute = vector_speed(pipeline)
    say(f"\nVector search in process (nearest(), top {CANDIDATES}): median {ours * 1e3:.3f} ms; "
        f"numpy brute force over the same matrix {brute * 1e3:.3f} ms: "
        f"{ours / brute:.2f}x (goal: within 2x).")
    if cli_queries:
        p50, p95 = cli_latency(kind, data, cli_queries)
        say(f"`ingestctl search --json` as a fresh process, {cli_queries} queries: P50 "
            f"{p50:.0f} ms, P95 {p95:.0f} ms (no warm process).")
    default, bm25 = rows[0][1].overall["page"].ndcg, rows[4][1].overall["page"].ndcg
    best_baseline = max(r.overall["page"].ndcg for name, r in rows if name.startswith("baseline"))
    say(f"\nDefault vs BM25 alone: {default - bm25:+.3f} page nDCG@10; vs the best baseline: "
        f"{default - best_baseline:+.3f}.")
    pipeline.close()


def main() -> None:
    """Measure and write the retrieval section of RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedders", default="hashing,minilm")
    parser.add_argument("--data", type=Path, default=HERE.parent / ".ingestq" / "bench")
    parser.add_argument("--cli-queries", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    lines = [
        "## Retrieval quality and speed (issue 14)\n",
        f"`{command_line()}` at {git_rev()} on {time.strftime('%Y-%m-%d')}; "
        f"{machine()}; {load()}.\n",
        f"Golden set: bench/golden/fastapi-en.jsonl ({len(load_golden(GOLDEN))} queries) over "
        "the English FastAPI docs; metrics at k=10 as `ingestctl eval` computes them.",
    ]

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    for kind in args.embedders.split(","):
        run_embedder(kind, args.data, args.cli_queries, say)
    if not args.no_write:
        write_section("retrieval", "\n".join(lines))


if __name__ == "__main__":
    main()
