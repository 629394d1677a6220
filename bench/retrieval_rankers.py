"""The rankings bench/retrieval.py compares, all over the same stored chunks.

ingestq's own (through :func:`ingestq.ingest.search.search` and its two input rankings) and the
baselines a user could build in an afternoon: BM25 with ``bm25s`` on the chunk texts, the same
embedder's vectors alone by numpy brute force, and both fused with plain RRF (k=60).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ingestq.ingest.eval_local import relative
from ingestq.ingest.eval_metrics import Hit
from ingestq.ingest.fusion import Ranking
from ingestq.ingest.pipeline import Pipeline

CANDIDATES = 40  # per input list, as search() takes for k=10
RRF_K = 60  # Cormack et al.'s constant, what a user reaching for RRF would take
Ranker = Callable[[str, int], Ranking]


class Chunks:
    """Every stored chunk with the page and anchor it belongs to (paths relative to the root)."""

    def __init__(self, pipeline: Pipeline, root: Path) -> None:
        rows = pipeline.manifest.conn.execute(
            "SELECT c.id, c.text, d.source_path, s.anchor, c.section_id, s.heading_path "
            "FROM chunks c JOIN sections s ON s.id = c.section_id "
            "JOIN documents d ON d.id = c.document_id ORDER BY c.rid"
        ).fetchall()
        self.ids = [str(r[0]) for r in rows]
        self.texts = [str(r[1]) for r in rows]
        self.where = {
            str(r[0]): (relative(str(r[2]), root), str(r[3]), str(r[4]),
                        " > ".join(json.loads(r[5])))
            for r in rows
        }

    def hits(self, ranking: Ranking, k: int) -> list[Hit]:
        """The ranking as one hit per section (its best chunk), like search() returns."""
        out: list[Hit] = []
        seen: set[str] = set()
        for chunk_id, score in ranking:
            path, anchor, section, title = self.where[chunk_id]
            if section in seen:
                continue
            seen.add(section)
            out.append(Hit(path, anchor, score, title))
            if len(out) == k:
                break
        return out


def bm25s_ranker(chunks: Chunks) -> Ranker:
    """BM25 (bm25s defaults, English stop words) over the chunk texts."""
    import bm25s

    index = bm25s.BM25()
    index.index(bm25s.tokenize(chunks.texts, stopwords="en", show_progress=False),
                show_progress=False)

    def rank(query: str, limit: int) -> Ranking:
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        found, scores = index.retrieve(tokens, k=min(limit, len(chunks.ids)),
                                       show_progress=False)
        return [(chunks.ids[i], float(s)) for i, s in zip(found[0], scores[0], strict=True)
                if s > 0]

    return rank


def dense_ranker(pipeline: Pipeline) -> tuple[Ranker, Callable[[], float]]:
    """The embedder's vectors alone, numpy brute force over a matrix loaded once.

    Also returns a timer: seconds of one brute-force top-k product, the speed reference.
    """
    ids, matrix = pipeline.manifest.vectors(pipeline.embedder_name)
    matrix = np.ascontiguousarray(matrix)
    probe = matrix[0].copy()

    def rank(query: str, limit: int) -> Ranking:
        vector = pipeline.embedder.embed([query])[0]
        scores = matrix @ vector
        top = np.argsort(-scores)[:limit]
        return [(ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def brute_force_seconds() -> float:
        import time

        started = time.perf_counter()
        scores = matrix @ probe
        np.argsort(-scores)[:CANDIDATES]
        return time.perf_counter() - started

    return rank, brute_force_seconds


def plain_rrf(*rankers: Ranker) -> Ranker:
    """Equal-weight reciprocal rank fusion of the rankers (k=60)."""

    def rank(query: str, limit: int) -> Ranking:
        fused: dict[str, float] = {}
        for ranker in rankers:
            for position, (chunk_id, _) in enumerate(ranker(query, limit), start=1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + position)
        return sorted(fused.items(), key=lambda item: (-item[1], item[0]))

    return rank
