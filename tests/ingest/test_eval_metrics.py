"""Retrieval metrics against values computed by hand, and the golden-set reader."""

from __future__ import annotations

import json
import math

import pytest

from ingestq.errors import PayloadError
from ingestq.ingest.eval_metrics import (
    Hit,
    Judgment,
    dcg,
    page_gains,
    percentile,
    score_hits,
    section_gains,
)
from ingestq.ingest.eval_run import GoldenQuery, load_golden, run_eval

LOG3 = math.log2(3)


def hits(*targets: str, scores: list[float] | None = None) -> list[Hit]:
    values = scores or [float(-i) for i in range(len(targets))]  # distinct: no ties
    return [Hit(t.split("#")[0], t.split("#")[1], s) for t, s in zip(targets, values, strict=True)]


def test_a_second_section_of_an_already_credited_page_gains_nothing_at_page_level():
    found = hits("a.md#x", "a.md#y", "b.md#z")
    judged = [Judgment("a.md", "x", 2), Judgment("b.md", None, 1)]
    assert page_gains(found, judged) == ([2, 0, 1], [2, 1])
    s = score_hits(found, judged, "page", 10)
    # DCG = 3/1 + 0 + 1/log2(4); ideal = 3/1 + 1/log2(3)
    assert s.ndcg == pytest.approx((3 + 0.5) / (3 + 1 / LOG3))
    assert (s.recall, s.mrr, s.success_at_1) == (1.0, 1.0, 1.0)


def test_section_level_matches_anchors_and_a_page_judgment_matches_any_section_once():
    found = hits("a.md#x", "a.md#y", "b.md#z", "b.md#w")
    judged = [Judgment("a.md", "x", 2), Judgment("a.md", "y", 1), Judgment("b.md", None, 1)]
    assert section_gains(found, judged) == ([2, 1, 1, 0], [2, 1, 1])
    assert score_hits(found, judged, "section", 10).ndcg == pytest.approx(1.0)


def test_a_wrong_anchor_on_the_right_page_is_a_hit_for_pages_and_a_miss_for_sections():
    found = hits("a.md#other")
    judged = [Judgment("a.md", "x", 2)]
    assert score_hits(found, judged, "page", 10).ndcg == 1.0
    section = score_hits(found, judged, "section", 10)
    assert (section.ndcg, section.recall, section.mrr, section.success_at_1) == (0, 0, 0, 0)


def test_tied_scores_share_their_gain_over_the_positions_they_occupy():
    gains = [0, 2, 0]
    # untied: 3 / log2(3); tied first two: mean gain 1.5 over discounts 1 and 1/log2(3)
    assert dcg(gains, [3.0, 2.0, 1.0], 10) == pytest.approx(3 / LOG3)
    assert dcg(gains, [1.0, 1.0, 0.5], 10) == pytest.approx(1.5 * (1 + 1 / LOG3))
    found = hits("a.md#n", "b.md#y", "c.md#n", scores=[1.0, 1.0, 0.5])
    s = score_hits(found, [Judgment("b.md", "y", 2)], "section", 10)
    assert s.ndcg == pytest.approx(1.5 * (1 + 1 / LOG3) / 3)
    assert s.mrr == 0.5 and s.success_at_1 == 0.0  # these follow the list order


def test_a_tie_across_the_cutoff_counts_only_the_positions_inside_it():
    # positions 1 and 2 tied, k=1: mean gain 1.5 times the first discount only
    assert dcg([0, 2], [1.0, 1.0], 1) == pytest.approx(1.5)


def test_recall_and_mrr_count_only_the_top_k():
    found = hits("n1.md#a", "n2.md#a", "a.md#x", "b.md#y")
    judged = [Judgment("a.md", "x", 1), Judgment("b.md", "y", 1)]
    s = score_hits(found, judged, "section", 3)
    assert (s.recall, s.mrr, s.success_at_1) == (0.5, pytest.approx(1 / 3), 0.0)
    assert s.ndcg == pytest.approx((1 / 2) / (1 + 1 / LOG3))


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 50) == 10.0 and percentile(values, 95) == 19.0
    assert percentile([], 95) == 0.0


def golden(*judgments: Judgment, qid: str = "q1") -> GoldenQuery:
    return GoldenQuery(qid, "anything", tuple(judgments), "keyword")


def test_judgments_the_store_lacks_are_reported_and_not_scored_as_misses():
    queries = [
        golden(Judgment("a.md", "x", 2), Judgment("gone.md", None, 2), qid="q1"),
        golden(Judgment("a.md", "typo", 2), qid="q2"),
        golden(Judgment("gone.md", "x", 2), qid="q3"),
    ]
    known = {"a.md": frozenset({"x", "y"})}
    report = run_eval(queries, lambda q, k: hits("a.md#x"), k=10, known=known)
    assert [(u.query_id, u.path, u.reason) for u in report.unknown] == [
        ("q1", "gone.md", "no such page"), ("q2", "a.md", "no such anchor"),
        ("q3", "gone.md", "no such page")]
    assert report.unscored == ["q3"]
    by_id = {r.query.id: r.scores for r in report.results}
    assert by_id["q1"]["page"].ndcg == 1.0  # gone.md does not lower the ideal
    assert by_id["q2"]["page"].ndcg == 1.0 and by_id["q2"]["section"].ndcg == 0.0
    assert report.by_type["keyword"]["page"].ndcg == 1.0


def test_the_golden_reader_names_the_bad_line(tmp_path):
    path = tmp_path / "g.jsonl"
    good = {"id": "a", "query": "q", "judgments": [{"path": "p.md", "grade": 2}]}
    bad = {"id": "b", "query": "q", "judgments": [{"path": "/abs.md", "grade": 2}]}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    with pytest.raises(PayloadError, match=r"g.jsonl:3: .*relative"):
        load_golden(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(PayloadError, match="duplicate id"):
        load_golden(path)


def test_the_repository_golden_set_is_well_formed_and_a_third_paraphrases():
    from pathlib import Path

    queries = load_golden(Path(__file__).parents[2] / "bench" / "golden" / "fastapi-en.jsonl")
    assert len(queries) >= 80
    assert sum(q.type == "paraphrase" for q in queries) * 3 >= len(queries)
