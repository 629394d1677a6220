"""Fusing the lexical and the vector ranking, with the vector weight chosen per embedder.

Plain reciprocal rank fusion gives both lists the same say. On the fastapi-en golden set that
pulls a good lexical ranking down towards a weak vector one: with the hashing embedder page
nDCG@10 falls from 0.734 (FTS5 alone) to 0.637 (equal-weight RRF). So the vector list gets a
weight per embedder, measured on the golden set (``bench/retrieval.py`` prints the sweep and
docs/search.md records it):

- hashing: 0. Its vectors only re-count shared words, which BM25 already counts better; every
  weight above 0 lowered nDCG. The default search is therefore lexical only, and says so;
- sentence-transformers (MiniLM): see :data:`DEFAULT_VECTOR_WEIGHTS`;
- openai: not measured here (no endpoint); it takes the sentence-transformers weight, a model
  at least as good as MiniLM deserves at least its say. Set ``search.vector_weight`` to override.
"""

from __future__ import annotations

from ingestq.ingest.settings import PipelineSettings

RRF_K = 60  # the constant of Cormack et al.: damps the head of each list, robust across corpora

DEFAULT_VECTOR_WEIGHTS: dict[str, float] = {
    "hashing": 0.0,
    "sentence-transformers": 1.0,
    "openai": 1.0,
}

Ranking = list[tuple[str, float]]  # (chunk id, score), best first; higher scores are better


def fusion_weight(settings: PipelineSettings) -> float:
    """The vector ranking's weight: configured, else the embedder's measured default."""
    configured = settings.search.vector_weight
    if configured is not None:
        return configured
    return DEFAULT_VECTOR_WEIGHTS[settings.embedder.kind]


def fuse(lexical: Ranking, vector: Ranking, vector_weight: float) -> Ranking:
    """Weighted reciprocal rank fusion, best first; ties broken by chunk id (deterministic).

    With weight 0 (or no vector list) this is the lexical ranking itself, scores included.
    """
    if vector_weight <= 0 or not vector:
        return list(lexical)
    fused: dict[str, float] = {}
    for ranking, weight in ((lexical, 1.0), (vector, vector_weight)):
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (RRF_K + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
