"""Search what was ingested: FTS5 BM25 and vector similarity, fused with a per-embedder weight.

Lexical hits come from the SQLite FTS5 index (present on both stacks: the manifest keeps it).
Vector hits come from Qdrant on the server stack, else from numpy over the vectors in SQLite; the
matrix is cached per process and reloaded only when the store's change counter moves. Hits are
per chunk; results are per section (its best chunk). On the server stack each result also carries
the section's neighbourhood from Neo4j when it is configured.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import numpy as np

from ingestq.ingest.embedders.base import Vectors
from ingestq.ingest.fusion import Ranking, fuse, fusion_weight
from ingestq.ingest.parsing.identity import Labels
from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.scope import scope_for
from ingestq.ingest.stores.base import Scope
from ingestq.ingest.stores.sqlite import HIGHLIGHT_CLOSE, HIGHLIGHT_OPEN, ChunkInfo, SQLiteStore

CANDIDATES_PER_RESULT = 4  # each list contributes more than k: both must be able to agree
_MAX_MASKS = 64  # label masks kept per cached matrix
_SNIPPET_CHARS = 240
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchResult:
    """One section that answers the query, with where to find it and why it matched."""

    score: float  # higher is better: the fused score, or BM25's when search is lexical only
    document_id: str
    source_path: str
    title: str
    heading_path: tuple[str, ...]
    anchor: str
    snippet: str  # matched words between ** marks
    section_id: str
    chunk_id: str
    collection: str = ""  # the labels of the root it was ingested from
    version: str = ""
    context: dict[str, str | None] = field(default_factory=dict)  # from Neo4j, when present


@dataclass(frozen=True)
class _Matrix:
    """The vectors of one model with, per row, its chunk id and a code for its labels."""

    ids: list[str]
    codes: np.ndarray[tuple[int], np.dtype[np.int32]]
    labels: list[Labels]  # code -> labels
    matrix: Vectors
    masks: dict[frozenset[Labels], np.ndarray[tuple[int], np.dtype[np.bool_]]] = field(
        default_factory=dict)  # per scope, built on first use (the matrix is read-only)

    def mask(self, scope: Scope) -> np.ndarray[tuple[int], np.dtype[np.bool_]] | None:
        """Rows inside ``scope``; None when every row is."""
        if scope is None:
            return None
        found = self.masks.get(scope)
        if found is None:
            wanted = [code for code, labels in enumerate(self.labels) if labels in scope]
            found = np.isin(self.codes, np.asarray(wanted, dtype=np.int32))
            if len(self.masks) >= _MAX_MASKS:
                self.masks.clear()  # scopes are subsets of the store's labels; still, bounded
            self.masks[scope] = found  # a race builds the same mask twice: harmless
        return found


# (database path, model) -> (store version, matrix)
_matrices: dict[tuple[str, str], tuple[int, _Matrix]] = {}
_matrices_lock = threading.Lock()


# Words that match nearly every English chunk: they add no ranking signal, only noise to snippets.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "s",
        "t",
        "that",
        "the",
        "this",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
    ]
)


def query_words(query: str) -> list[str]:
    """The query's words worth matching: stop words and single Latin letters dropped.

    A query made only of such words keeps them all, so it still finds something.
    """
    words = _WORD.findall(query)
    useful = [
        w for w in words if w.casefold() not in _STOPWORDS and not (len(w) == 1 and w.isascii())
    ]
    return useful or words


def fts_query(query: str) -> str | None:
    """Return an FTS5 MATCH expression: any of the query's words, each quoted (no syntax)."""
    words = query_words(query)
    return " OR ".join(f'"{w}"' for w in words) if words else None


def lexical_ranking(pipeline: Pipeline, query: str, limit: int, scope: Scope = None) -> Ranking:
    """The FTS5 BM25 ranking of chunks in ``scope`` (scores negated: higher is better)."""
    match = fts_query(query)
    if match is None:
        return []
    return [(hit.chunk_id, -hit.score) for hit in pipeline.manifest.lexical(match, limit, scope)]


def vector_ranking(pipeline: Pipeline, query: str, limit: int, scope: Scope = None) -> Ranking:
    """The cosine ranking of chunks against the query's vector; empty for a query without words."""
    vector = pipeline.embedder.embed([query])[0]
    if not vector.any():
        return []  # a query without words matches nothing by meaning either
    return nearest(pipeline, vector, limit, scope)


def nearest(pipeline: Pipeline, vector: Vectors, limit: int, scope: Scope = None) -> Ranking:
    """The ``limit`` chunks in ``scope`` closest to ``vector``: Qdrant, else numpy."""
    if scope is not None and not scope:
        return []
    if pipeline.vector_store is not None:
        found = pipeline.vector_store.search(vector, limit, scope)
        return [(chunk_id, score) for chunk_id, score, _ in found]
    held = _matrix(pipeline.manifest, pipeline.embedder.name)
    ids, matrix = held.ids, held.matrix
    if not ids:
        return []
    scores = matrix @ vector
    mask = held.mask(scope)
    if mask is not None:  # outside the scope scores -inf, which the "> 0" below drops
        scores = np.where(mask, scores, -np.inf)
    # argpartition: the top ``limit`` in linear time, then sort only those
    top = np.argpartition(-scores, limit - 1)[:limit] if limit < len(ids) else np.arange(len(ids))
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(ids[i], float(scores[i])) for i in top if scores[i] > 0]


def _matrix(store: SQLiteStore, model: str) -> _Matrix:
    key = (str(store.path), model)
    version = store.version()
    with _matrices_lock:
        cached = _matrices.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
    ids, labels, matrix = store.labelled_vectors(model)
    distinct = list(dict.fromkeys(labels))
    code_of = {lab: code for code, lab in enumerate(distinct)}
    codes = np.fromiter((code_of[lab] for lab in labels), dtype=np.int32, count=len(labels))
    held = _Matrix(ids, codes, distinct, matrix)
    with _matrices_lock:
        _matrices[key] = (version, held)
    return held


def search(
    pipeline: Pipeline, query: str, k: int = 10, *, vector_weight: float | None = None,
    collection: str | None = None, version: str | None = None,
) -> list[SearchResult]:
    """Return up to ``k`` sections best matching ``query``, best first.

    ``vector_weight``: the vector ranking's weight in the fusion (the lexical one weighs 1);
    None: the configured or measured default of the embedder (:func:`fusion_weight`). At 0 the
    query is not embedded at all. ``collection`` / ``version``: which labels to read
    (:mod:`ingestq.ingest.scope`; by default the newest version of every collection); both
    rankings filter on them before they are cut, so ``k`` stays exact.
    """
    scope = scope_for(pipeline.manifest, collection, version)
    if scope is not None and not scope:
        return []  # the selection names no label the store holds
    limit = k * CANDIDATES_PER_RESULT
    weight = fusion_weight(pipeline.settings) if vector_weight is None else vector_weight
    lexical = lexical_ranking(pipeline, query, limit, scope)
    vector = vector_ranking(pipeline, query, limit, scope) if weight > 0 else []
    ranked = fuse(lexical, vector, weight)
    info = pipeline.manifest.chunk_info([chunk_id for chunk_id, _ in ranked])
    chosen: list[tuple[ChunkInfo, float]] = []
    seen_sections: set[str] = set()
    for chunk_id, score in ranked:
        chunk = info.get(chunk_id)
        if chunk is None or chunk.section_id in seen_sections:
            continue  # deleted since it was ranked, or its section already has a better chunk
        seen_sections.add(chunk.section_id)
        chosen.append((chunk, score))
        if len(chosen) == k:
            break
    match = fts_query(query)
    snippets = pipeline.manifest.snippets(match, [c.chunk_id for c, _ in chosen]) if match else {}
    return [
        _result(pipeline, chunk, score, snippets.get(chunk.chunk_id) or highlight(chunk, query))
        for chunk, score in chosen
    ]


def _result(pipeline: Pipeline, chunk: ChunkInfo, score: float, snippet: str) -> SearchResult:
    graph = pipeline.graph
    context = graph.context(chunk.section_id) if graph is not None else {}
    return SearchResult(
        score=score,
        document_id=chunk.document_id,
        source_path=chunk.source_path,
        title=chunk.title,
        heading_path=chunk.heading_path,
        anchor=chunk.anchor,
        snippet=snippet,
        section_id=chunk.section_id,
        chunk_id=chunk.chunk_id,
        collection=chunk.collection,
        version=chunk.version,
        context=context,
    )


def highlight(chunk: ChunkInfo, query: str) -> str:
    """Return the start of the chunk's body with the query's words marked (vector-only hits)."""
    body = chunk.text.split("\n\n", 1)[-1]  # drop the heading-path prefix line
    excerpt = body[:_SNIPPET_CHARS] + (" …" if len(body) > _SNIPPET_CHARS else "")
    words = {w.casefold() for w in query_words(query)}
    return _WORD.sub(
        lambda m: f"{HIGHLIGHT_OPEN}{m[0]}{HIGHLIGHT_CLOSE}" if m[0].casefold() in words else m[0],
        excerpt,
    )
