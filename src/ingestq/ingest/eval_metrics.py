"""Graded retrieval metrics at page and section level: nDCG@k, Recall@k, MRR@k, Success@1.

A ranked list of hits is first turned into gains, one per rank, against the query's judgments:

- page level: a hit's gain is the best grade judged anywhere on its page; a page is credited
  once, so the second section of an already-credited page gains 0 (a list of ten sections of
  one page must not look like ten answers);
- section level: a hit matches a judgment on the same page with the same anchor, or a judgment
  that names the page without an anchor; each judgment is credited once, to the first hit that
  matches it.

nDCG uses the exponential gain ``2**grade - 1`` (grade 2 "answers it" is worth three times grade
1 "useful") and the ``log2(rank + 1)`` discount. Hits with equal scores are tied: their gains are
averaged over the positions they share (McSherry and Najork, ECIR 2008), so the metric does not
depend on how a search happened to order a tie. Recall, MRR and Success@1 follow the list order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Level = str  # "page" or "section"
LEVELS: tuple[Level, ...] = ("page", "section")


@dataclass(frozen=True)
class Judgment:
    """A page, or one section of it by anchor, judged for a query: 2 answers it, 1 is useful."""

    path: str
    anchor: str | None
    grade: int


@dataclass(frozen=True)
class Hit:
    """One search result as the metrics see it: where it points and its score."""

    path: str
    anchor: str
    score: float
    title: str = ""
    section_id: str = ""  # what two rankings are compared by (a path#anchor may repeat)


@dataclass(frozen=True)
class Scores:
    """The metrics of one ranked list at one level."""

    ndcg: float
    recall: float
    mrr: float
    success_at_1: float


def page_gains(hits: Sequence[Hit], judgments: Sequence[Judgment]) -> tuple[list[int], list[int]]:
    """Per-rank grades at page level and the ideal grades (one per judged page), best first."""
    best: dict[str, int] = {}
    for j in judgments:
        best[j.path] = max(best.get(j.path, 0), j.grade)
    credited: set[str] = set()
    gains: list[int] = []
    for hit in hits:
        grade = best.get(hit.path, 0) if hit.path not in credited else 0
        credited.add(hit.path)
        gains.append(grade)
    return gains, sorted((g for g in best.values() if g > 0), reverse=True)


def section_gains(
    hits: Sequence[Hit], judgments: Sequence[Judgment]
) -> tuple[list[int], list[int]]:
    """Per-rank grades at section level and the ideal grades (one per judgment), best first."""
    open_judgments = [j for j in judgments if j.grade > 0]
    gains: list[int] = []
    for hit in hits:
        matches = [
            j for j in open_judgments if j.path == hit.path and j.anchor in (None, hit.anchor)
        ]
        if not matches:
            gains.append(0)
            continue
        taken = max(matches, key=lambda j: j.grade)
        open_judgments.remove(taken)
        gains.append(taken.grade)
    return gains, sorted((j.grade for j in judgments if j.grade > 0), reverse=True)


def _discount(rank: int) -> float:
    return 1.0 / math.log2(rank + 1)


def _gain(grade: float) -> float:
    return float(2.0**grade) - 1.0


def dcg(gains: Sequence[int], scores: Sequence[float] | None, k: int) -> float:
    """DCG@k; runs of equal ``scores`` share the average gain of the run (tie-aware)."""
    total = 0.0
    start = 0
    while start < len(gains) and start < k:
        end = start + 1
        while scores is not None and end < len(gains) and scores[end] == scores[start]:
            end += 1
        mean_gain = sum(_gain(g) for g in gains[start:end]) / (end - start)
        total += mean_gain * sum(_discount(r + 1) for r in range(start, min(end, k)))
        start = end
    return total


def score(gains: Sequence[int], ideal: Sequence[int], scores: Sequence[float] | None,
          k: int) -> Scores:
    """All metrics of one list of gains against its ideal grades, cut at ``k``."""
    ideal_dcg = dcg(ideal, None, k)
    top = gains[:k]
    relevant = len(ideal)
    first = next((rank for rank, g in enumerate(top, 1) if g > 0), None)
    return Scores(
        ndcg=dcg(gains, scores, k) / ideal_dcg if ideal_dcg else 0.0,
        recall=sum(1 for g in top if g > 0) / relevant if relevant else 0.0,
        mrr=1.0 / first if first else 0.0,
        success_at_1=1.0 if top and top[0] > 0 else 0.0,
    )


def score_hits(hits: Sequence[Hit], judgments: Sequence[Judgment], level: Level,
               k: int) -> Scores:
    """Score one query's hits at ``level`` ("page" or "section")."""
    gains, ideal = (page_gains if level == "page" else section_gains)(hits, judgments)
    return score(gains, ideal, [h.score for h in hits], k)


def mean_scores(all_scores: Sequence[Scores]) -> Scores:
    """The mean of each metric over queries (zeros when there are none)."""
    n = len(all_scores) or 1
    return Scores(
        ndcg=sum(s.ndcg for s in all_scores) / n,
        recall=sum(s.recall for s in all_scores) / n,
        mrr=sum(s.mrr for s in all_scores) / n,
        success_at_1=sum(s.success_at_1 for s in all_scores) / n,
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by the nearest-rank method; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]
