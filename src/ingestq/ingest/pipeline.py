"""The ingestion pipeline: parse -> embed what the cache lacks -> write to every store.

The steps are a list of small callables sharing one :class:`IngestContext`; a step may end the
run early by setting ``skipped_reason`` (an unchanged file stops before it is parsed). The
stores are opened once per process by :meth:`Pipeline.open` and shared by the worker's handler
threads. The embedder is built on first use: skipping an unchanged file needs only its name, so
a worker that skips every file never loads a model.

Stores are written server stores first and the SQLite manifest last: if a server write fails,
the manifest still holds the old checksum, so the retried job is not skipped as unchanged.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ingestq.errors import ConfigError
from ingestq.ingest.embedders import (
    Embedder,
    EmbeddingCache,
    Vectors,
    embedder_name,
    input_limit,
    known_dim,
    make_embedder,
)
from ingestq.ingest.parsing.model import Document
from ingestq.ingest.parsing.parse import (
    NO_LABELS,
    Labels,
    ParseOptions,
    document_id_for,
    normalise_path,
    parse_source,
)
from ingestq.ingest.parsing.reader import SourceFile, open_source
from ingestq.ingest.settings import PipelineSettings
from ingestq.ingest.stores.base import SKIPPED_UNCHANGED, Store, WriteResult
from ingestq.ingest.stores.sqlite import SQLiteStore

if TYPE_CHECKING:  # the server stack is an optional extra: imported only when configured
    from ingestq.ingest.stores.neo4j import Neo4jStore
    from ingestq.ingest.stores.qdrant import QdrantStore

# With a progress callback, chunks are embedded this many at a time so a long file reports as
# it goes; most files have fewer chunks and still make one embedder call.
PROGRESS_SLICE = 256

# Sections done, sections in all, and a note: how a caller (the `file` job) follows one file.
ProgressFn = Callable[[int, int, str], None]


@dataclass
class IngestContext:
    """The state one file's run passes from step to step."""

    path: str  # normalised absolute path
    document_id: str
    force: bool
    labels: Labels = NO_LABELS
    checksum: str | None = None
    source: SourceFile | None = None  # opened and checked by the first step, closed at the end
    document: Document | None = None
    vectors: Vectors | None = None
    chunks_embedded: int = 0
    results: list[WriteResult] = field(default_factory=list)
    skipped_reason: str | None = None
    progress: ProgressFn | None = None


Step = Callable[["Pipeline", IngestContext], None]


@dataclass(frozen=True)
class IngestOutcome:
    """What ingesting one file did; counts are those of the SQLite manifest store."""

    document_id: str
    source_path: str
    status: Literal["written", "skipped"]
    reason: str | None
    sections_added: int
    sections_updated: int
    sections_deleted: int
    sections_unchanged: int
    chunks_embedded: int
    chunks_written: int
    chunks_deleted: int
    store_results: tuple[WriteResult, ...]
    durations: dict[str, float]  # seconds per step name


def _opened(pipeline: Pipeline, ctx: IngestContext) -> SourceFile:
    """The file, opened inside the roots and checked on first use; nothing is read before."""
    if ctx.source is None:
        # From the settings, not parse_options: those ask the embedder for its input limit,
        # and skipping an unchanged file must not load a model.
        s = pipeline.settings
        ctx.source = open_source(ctx.path, tuple(s.root_paths), s.max_file_bytes)
    return ctx.source


def skip_unchanged(pipeline: Pipeline, ctx: IngestContext) -> None:
    """Stop early when the manifest holds this file with the same checksum and model."""
    ctx.checksum = _opened(pipeline, ctx).checksum()
    if ctx.force:
        return
    stored = pipeline.manifest.stored_checksum(ctx.document_id)
    if stored == (ctx.checksum, pipeline.embedder_name):
        ctx.skipped_reason = SKIPPED_UNCHANGED


def parse(pipeline: Pipeline, ctx: IngestContext) -> None:
    """Parse the opened file; bad input raises PermanentError."""
    source = _opened(pipeline, ctx)
    ctx.document = parse_source(source, pipeline.parse_options, ctx.labels)
    source.close()  # the text is in memory; the descriptor is not needed any more
    if ctx.progress is not None:
        ctx.progress(0, len(ctx.document.sections), "parsed")


def embed(pipeline: Pipeline, ctx: IngestContext) -> None:
    """Take vectors from the cache; embed only the chunk texts it does not hold yet."""
    doc = ctx.document
    assert doc is not None, "parse runs before embed"
    if ctx.progress is None or len(doc.chunks) <= PROGRESS_SLICE:
        ctx.vectors, ctx.chunks_embedded = pipeline.vectors_for(doc)
    else:
        ctx.vectors, ctx.chunks_embedded = _embed_in_slices(pipeline, doc, ctx.progress)
    if ctx.progress is not None:
        ctx.progress(len(doc.sections), len(doc.sections), "sections embedded")


def _embed_in_slices(pipeline: Pipeline, doc: Document, progress: ProgressFn
                     ) -> tuple[Vectors, int]:
    """Embed PROGRESS_SLICE chunks at a time, reporting the sections whose chunks are all done."""
    last_chunk = {c.section_id: i for i, c in enumerate(doc.chunks)}
    parts: list[Vectors] = []
    embedded = 0
    for start in range(0, len(doc.chunks), PROGRESS_SLICE):
        part = dataclasses.replace(doc, chunks=doc.chunks[start:start + PROGRESS_SLICE])
        vectors, n = pipeline.vectors_for(part)
        parts.append(vectors)
        embedded += n
        end = start + len(part.chunks)
        # sections without chunks (empty headings) count as done from the start
        done = len(doc.sections) - sum(1 for i in last_chunk.values() if i >= end)
        progress(done, len(doc.sections), "sections embedded")
    return np.concatenate(parts).astype(np.float32), embedded


def write(pipeline: Pipeline, ctx: IngestContext) -> None:
    """Write the document to every store, the SQLite manifest last."""
    assert ctx.document is not None and ctx.vectors is not None, "embed runs before write"
    for store in pipeline.stores:
        ctx.results.append(
            store.write_document(ctx.document, ctx.vectors, pipeline.embedder_name, force=ctx.force)
        )
    if ctx.results[-1].skipped_reason:
        # A duplicate delivery finished first: nothing left to do, say so.
        ctx.skipped_reason = ctx.results[-1].skipped_reason


DEFAULT_STEPS: tuple[Step, ...] = (skip_unchanged, parse, embed, write)

_open: dict[tuple[str, str], Pipeline] = {}
_open_lock = threading.Lock()


class Pipeline:
    """An embedder, the stores and the steps that ingest one file into them."""

    def __init__(
        self,
        settings: PipelineSettings,
        embedder: Embedder | None,
        manifest: SQLiteStore,
        *,
        vector_store: QdrantStore | None = None,
        graph: Neo4jStore | None = None,
        steps: tuple[Step, ...] = DEFAULT_STEPS,
    ) -> None:
        """Assemble a pipeline from opened parts; most callers want :meth:`open`.

        ``embedder`` None: built from ``settings.embedder`` on first use.
        """
        self.settings = settings
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        # The manifest key of every stored document: what an unchanged file is compared with.
        self.embedder_name = embedder.name if embedder else embedder_name(settings.embedder)
        self._parse_options: ParseOptions | None = None
        self.manifest = manifest
        self.cache = EmbeddingCache(manifest.conn, manifest.lock)
        self.vector_store = vector_store
        self.graph = graph
        servers: list[Store] = [s for s in (vector_store, graph) if s is not None]
        self.stores: list[Store] = [*servers, manifest]
        self.steps = steps
        self._key: tuple[str, str] | None = None

    @property
    def embedder(self) -> Embedder:
        """The embedder, loaded on first use (seconds and hundreds of MB for a transformer)."""
        if self._embedder is not None:
            return self._embedder
        with self._embedder_lock:
            if self._embedder is None:
                built = make_embedder(self.settings.embedder)
                if built.name != self.embedder_name:
                    raise ConfigError(
                        f"embedder {built.name!r} does not match its settings' name "
                        f"{self.embedder_name!r}"
                    )
                self._embedder = built
            return self._embedder

    @property
    def parse_options(self) -> ParseOptions:
        """Parse options with the embedder's input limit, so no chunk is longer than it reads."""
        if self._parse_options is not None:
            return self._parse_options
        with self._embedder_lock:
            if self._parse_options is None:
                self._parse_options = parse_options_for(self.settings)
            return self._parse_options

    @classmethod
    def open(cls, settings: PipelineSettings, data_dir: Path) -> Pipeline:
        """Return this process's pipeline for these settings, opening it on first use."""
        key = (settings.model_dump_json(), str(Path(data_dir).resolve()))
        with _open_lock:
            pipeline = _open.get(key)
            if pipeline is None:
                pipeline = cls._build(settings, Path(data_dir))
                pipeline._key = key
                _open[key] = pipeline
            return pipeline

    @classmethod
    def _build(cls, settings: PipelineSettings, data_dir: Path) -> Pipeline:
        server = settings.store.kind == "server"
        manifest = SQLiteStore(settings.sqlite_file(data_dir), store_vectors=not server)
        if not server:
            return cls(settings, None, manifest)
        from ingestq.ingest.stores.neo4j import Neo4jStore
        from ingestq.ingest.stores.qdrant import QdrantStore

        # Qdrant sizes its collection at open: load the model only when the settings do not say.
        dim = known_dim(settings.embedder)
        embedder = make_embedder(settings.embedder) if dim is None else None
        if embedder is not None:
            dim = embedder.dim
        assert dim is not None
        vectors = QdrantStore.from_settings(settings.store, dim)
        graph = Neo4jStore.from_settings(settings.store) if settings.store.neo4j_uri else None
        return cls(settings, embedder, manifest, vector_store=vectors, graph=graph)

    def store_named(self, name: str) -> Store | None:
        """Return the store called ``name`` ("sqlite", "qdrant", "neo4j"), if present."""
        return next((s for s in self.stores if s.name == name), None)

    def ingest_file(self, path: str, *, force: bool = False, labels: Labels = NO_LABELS,
                    progress: ProgressFn | None = None) -> IngestOutcome:
        """Ingest one file; ``force`` rewrites what differs even when the checksum matches.

        ``labels``: the collection and version it is ingested under (part of its id, so the
        other versions of the file are never touched). ``progress`` hears of sections parsed
        and embedded as the run goes.
        """
        normalised = normalise_path(path)
        ctx = IngestContext(normalised, document_id_for(normalised, labels), force,
                            labels=labels, progress=progress)
        durations: dict[str, float] = {}
        try:
            for step in self.steps:
                started = time.perf_counter()
                step(self, ctx)
                durations[step.__name__] = time.perf_counter() - started
                if ctx.skipped_reason:
                    break
        finally:
            if ctx.source is not None:
                ctx.source.close()
        return _outcome(ctx, durations)

    def vectors_for(self, doc: Document) -> tuple[Vectors, int]:
        """Return one vector per chunk and how many chunk texts had to be embedded."""
        model = self.embedder_name
        hashes = [c.content_hash for c in doc.chunks]
        known = self.cache.get_many(model, hashes)
        texts = {c.content_hash: c.text for c in doc.chunks if c.content_hash not in known}
        if texts:
            fresh = self.embedder.embed(list(texts.values()))
            new = dict(zip(texts, fresh, strict=True))
            self.cache.put_many(model, new)
            known.update(new)
        if not hashes:
            return np.zeros((0, self.embedder.dim), dtype=np.float32), 0
        return np.stack([known[h] for h in hashes]).astype(np.float32), len(texts)

    def delete_document(self, document_id: str) -> bool:
        """Delete a document from every store; True when any store held it."""
        found = [store.delete_document(document_id) for store in self.stores]
        return any(found)

    def close(self) -> None:
        """Close every store and forget this pipeline, so the next open builds a new one."""
        with _open_lock:
            if self._key is not None and _open.get(self._key) is self:
                del _open[self._key]
        for store in self.stores:
            store.close()


def parse_options_for(settings: PipelineSettings) -> ParseOptions:
    """The parser's options for these settings, with the embedder's input limit, so no chunk is
    longer than the embedder reads."""
    return dataclasses.replace(settings.parse_options(), input_limit=input_limit(settings.embedder))


def _outcome(ctx: IngestContext, durations: dict[str, float]) -> IngestOutcome:
    main = ctx.results[-1] if ctx.results else WriteResult("sqlite", ctx.document_id)
    return IngestOutcome(
        document_id=ctx.document_id,
        source_path=ctx.path,
        status="skipped" if ctx.skipped_reason else "written",
        reason=ctx.skipped_reason,
        sections_added=main.sections_added,
        sections_updated=main.sections_updated,
        sections_deleted=main.sections_deleted,
        sections_unchanged=main.sections_unchanged,
        chunks_embedded=ctx.chunks_embedded,
        chunks_written=main.chunks_written,
        chunks_deleted=main.chunks_deleted,
        store_results=tuple(ctx.results),
        durations=durations,
    )
