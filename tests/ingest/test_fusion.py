"""Fusion: min-max normalised scores combined with the embedder's vector weight."""

from __future__ import annotations

import pytest

from ingestq.ingest.fusion import fuse, fusion_weight
from ingestq.ingest.settings import EmbedderSettings, PipelineSettings, SearchSettings

LEXICAL = [("a", 10.0), ("b", 5.0), ("c", 0.0)]
VECTOR = [("b", 0.9), ("d", 0.5)]


def test_scores_are_normalised_per_list_and_combined_by_weight():
    # lexical a=1, b=0.5, c=0; vector b=1, d=0; at 0.5: b=0.75, a=0.5, c=d=0 (tie by id)
    assert fuse(LEXICAL, VECTOR, 0.5) == [("b", 0.75), ("a", 0.5), ("c", 0.0), ("d", 0.0)]
    assert fuse(LEXICAL, VECTOR, 0.2)[0] == ("a", pytest.approx(0.8))


def test_weight_zero_or_no_vectors_is_the_lexical_ranking_itself():
    assert fuse(LEXICAL, VECTOR, 0.0) == LEXICAL
    assert fuse(LEXICAL, [], 0.5) == LEXICAL


def test_a_single_candidate_list_normalises_to_one():
    assert fuse([], [("x", 0.3)], 0.5) == [("x", 0.5)]


def test_the_weight_comes_from_the_settings_else_the_embedders_measured_default():
    assert fusion_weight(PipelineSettings()) == 0.0  # hashing: lexical only
    minilm = PipelineSettings(embedder=EmbedderSettings(kind="sentence-transformers"))
    assert fusion_weight(minilm) == 0.5
    chosen = PipelineSettings(search=SearchSettings(vector_weight=0.3))
    assert fusion_weight(chosen) == 0.3
