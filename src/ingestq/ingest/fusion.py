"""Fusing the lexical and the vector ranking, with the vector weight chosen per embedder.

Each ranking's scores are min-max normalised over its candidates (BM25 and cosine live on
different scales) and a chunk scores ``(1 - w) * lexical + w * vector``, 0 for a list it is
missing from. Plain reciprocal rank fusion gives both lists the same say whatever their quality:
on the fastapi-en golden set it pulled the hashing default from page nDCG@10 0.760 (BM25 alone)
down to 0.653. So ``w`` is measured per embedder on that set (``bench/retrieval.py`` prints the
sweep, docs/search.md records it):

- hashing: 0. Its vectors only re-count shared words, which BM25 already counts better:
  weights 0.2 and 0.3 moved page nDCG@10 by +0.000 and +0.005 (noise on 102 queries), 0.4 and
  above lowered it (0.711 at 0.5). Not worth embedding every query for: the default search is
  lexical only, and says so.
- sentence-transformers (MiniLM): 0.5. Page nDCG@10 0.841 and section 0.639, against 0.757 and
  0.596 for BM25 alone and 0.810 and 0.542 for the vectors alone: above both inputs at both
  levels; weighted RRF peaked lower (0.832 and 0.617 at weight 0.75).
- openai: not measured here (no endpoint); it takes MiniLM's weight, as a model at least as good
  deserves at least its say. Set ``search.vector_weight`` to override any of these.
"""

from __future__ import annotations

from ingestq.ingest.settings import PipelineSettings

DEFAULT_VECTOR_WEIGHTS: dict[str, float] = {
    "hashing": 0.0,
    "sentence-transformers": 0.5,
    "openai": 0.5,
}

Ranking = list[tuple[str, float]]  # (chunk id, score), best first; higher scores are better


def fusion_weight(settings: PipelineSettings) -> float:
    """The vector ranking's weight in [0, 1]: configured, else the embedder's measured default."""
    configured = settings.search.vector_weight
    if configured is not None:
        return configured
    return DEFAULT_VECTOR_WEIGHTS[settings.embedder.kind]


def _normalised(ranking: Ranking) -> dict[str, float]:
    if not ranking:
        return {}
    scores = [score for _, score in ranking]
    low, span = min(scores), max(scores) - min(scores)
    return {chunk_id: (score - low) / span if span else 1.0 for chunk_id, score in ranking}


def fuse(lexical: Ranking, vector: Ranking, vector_weight: float) -> Ranking:
    """Convex combination of min-max normalised scores, best first; ties broken by chunk id.

    With weight 0 (or no vector list) this is the lexical ranking itself, scores included.
    """
    if vector_weight <= 0 or not vector:
        return list(lexical)
    lex, vec = _normalised(lexical), _normalised(vector)
    fused = {
        chunk_id: (1.0 - vector_weight) * lex.get(chunk_id, 0.0)
        + vector_weight * vec.get(chunk_id, 0.0)
        for chunk_id in lex.keys() | vec.keys()
    }
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
