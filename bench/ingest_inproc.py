"""In-process measurements for bench/ingest.py: the embedder alone, and the pipeline's steps.

The embedder-alone figure is the floor the pipeline is held to: every distinct chunk text of the
corpus (the pipeline embeds a text once, its cache serves repeats) through ``embedder.embed`` in
one call, which batches by the configured ``batch_size`` exactly as a worker's embedder does.

The step figures come from ``Pipeline.ingest_file`` called file by file in this process on a
fresh store: the job result a worker keeps has no per-step durations, ``IngestOutcome`` does.
The embedder is wrapped so the embed step can be split into model time and cache time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest_queue import machine_busy_seconds

from ingestq.ingest.embedders import Embedder, Vectors, make_embedder
from ingestq.ingest.files import expand
from ingestq.ingest.parsing.parse import ParseOptions, parse_file
from ingestq.ingest.pipeline import Pipeline, parse_options_for
from ingestq.ingest.settings import EmbedderSettings, PipelineSettings
from ingestq.ingest.stores.sqlite import SQLiteStore
from ingestq.threads import embed_in_bulk

embed_in_bulk()  # the model's torch pool gets the cores here, as in a worker


@dataclass
class CorpusTexts:
    """The chunk texts of a corpus, parsed with the default options."""

    files: int
    sections: int
    chunks: int
    texts: list[str]  # distinct chunk texts, in corpus order
    parse_seconds: float
    dead: list[str] = field(default_factory=list)  # files the parser refused, with the reason


def options_for(kind: str) -> ParseOptions:
    """Parse options as a worker with this embedder uses them: chunks sized to its input limit."""
    embedder = EmbedderSettings(kind=kind)  # type: ignore[arg-type]
    return parse_options_for(PipelineSettings(embedder=embedder))


def collect_texts(paths: list[str], kind: str = "hashing") -> CorpusTexts:
    """Parse every file of the corpus as a worker with ``kind`` would; its distinct chunk texts."""
    files = expand(paths).files
    options = options_for(kind)
    started = time.perf_counter()
    unique: dict[str, str] = {}
    sections = chunks = 0
    refused: list[str] = []
    for path in files:
        try:
            doc = parse_file(path, options)
        except Exception as exc:
            refused.append(f"{path}: {exc}")
            continue
        sections += len(doc.sections)
        chunks += len(doc.chunks)
        for chunk in doc.chunks:
            unique.setdefault(chunk.content_hash, chunk.text)
    return CorpusTexts(len(files), sections, chunks, list(unique.values()),
                       time.perf_counter() - started, refused)


@dataclass
class EmbedAlone:
    """The embedder's own throughput on the corpus's texts."""

    embedder: str
    texts: int
    batch_size: int | None
    load_seconds: float
    embed_seconds: float
    cpu_seconds: float  # this process, all threads, during the embed call
    others_cores: float  # CPU other processes used meanwhile, in cores

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return {**asdict(self), "texts_per_second": round(self.texts / self.embed_seconds, 2)}


def embed_alone(kind: str, texts: list[str]) -> EmbedAlone:
    """Time ``embedder.embed`` over ``texts`` in one call (batched inside), after a warm-up."""
    settings = EmbedderSettings(kind=kind)  # type: ignore[arg-type]
    started = time.perf_counter()
    embedder = make_embedder(settings)
    embedder.embed(texts[:8])  # first forward pass allocates; a worker pays it once too
    load = time.perf_counter() - started
    started, cpu, busy = time.perf_counter(), time.process_time(), machine_busy_seconds()
    embedder.embed(texts)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    others = max(0.0, machine_busy_seconds() - busy - cpu) / wall
    return EmbedAlone(embedder.name, len(texts), getattr(embedder, "batch_size", None),
                      round(load, 3), round(wall, 3), round(cpu, 2), round(others, 2))


class TimedEmbedder:
    """A real embedder whose ``embed`` calls are timed (model time inside the embed step)."""

    def __init__(self, inner: Embedder) -> None:
        """Wrap ``inner``; its name and dim are passed through unchanged."""
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.seconds = 0.0
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed with the wrapped embedder, adding the time taken to ``seconds``."""
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1
            self.texts += len(texts)


def step_times(kind: str, paths: list[str], store_dir: Path) -> dict[str, Any]:
    """Ingest file by file in this process on a fresh store; total seconds per step."""
    settings = PipelineSettings.model_validate({"embedder": {"kind": kind}})
    timed = TimedEmbedder(make_embedder(settings.embedder))
    store_dir.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(settings, timed, SQLiteStore(store_dir / "steps.sqlite3"))
    totals: dict[str, float] = {}
    refused = 0
    started, cpu, busy = time.perf_counter(), time.process_time(), machine_busy_seconds()
    for path in expand(paths).files:
        try:
            outcome = pipeline.ingest_file(path)
        except Exception:
            refused += 1
            continue
        for step, seconds in outcome.durations.items():
            totals[step] = totals.get(step, 0.0) + seconds
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    others = max(0.0, machine_busy_seconds() - busy - cpu) / wall
    pipeline.close()
    return {"embedder": timed.name, "wall_seconds": round(wall, 3), "refused": refused,
            "cpu_seconds": round(cpu, 2), "others_cores": round(others, 2),
            "steps": {k: round(v, 3) for k, v in totals.items()},
            "model_seconds": round(timed.seconds, 3), "model_calls": timed.calls,
            "model_texts": timed.texts,
            "embed_cache_seconds": round(totals.get("embed", 0.0) - timed.seconds, 3)}


def batching_shapes(
    kind: str, paths: list[str], groups: tuple[int, ...] = (1, 8)
) -> dict[str, Any]:
    """Model seconds when chunk texts reach the embedder one document, or N documents, a call.

    A worker embeds each document's chunks in their own call; this shows what coalescing the
    calls of N concurrent jobs into one would save (fewer, fuller, length-sorted batches).
    """
    options = options_for(kind)
    docs = [[c.text for c in parse_file(p, options).chunks] for p in expand(paths).files]
    embedder = make_embedder(EmbedderSettings(kind=kind))  # type: ignore[arg-type]
    embedder.embed(docs[0][:8])
    out: dict[str, Any] = {"embedder": embedder.name, "texts": sum(map(len, docs))}
    for size in groups:
        started = time.perf_counter()
        for start in range(0, len(docs), size):
            texts = [t for doc in docs[start : start + size] for t in doc]
            if texts:
                embedder.embed(texts)
        out[f"docs_per_call_{size}"] = round(time.perf_counter() - started, 3)
    return out
