"""Run a golden set through a search and report its metrics, latency and failures.

The runner knows nothing about how search is reached: it takes a :data:`SearchFn` (query, k ->
hits with paths relative to the ingest root). ``ingestctl eval`` passes the in-process pipeline
search (:mod:`ingestq.ingest.eval_local`); another transport (MCP over stdio or HTTP) passes its
own client, which may answer with an :class:`Answer` to report the size of its replies, and the
in-process search as ``baseline``: each query then runs through both, back to back, and the
report says where the rankings differ and what the transport adds to the latency.

A golden set is JSON lines, one query per line::

    {"id": "q1", "query": "...", "type": "paraphrase",
     "judgments": [{"path": "tutorial/body.md", "anchor": "request-body", "grade": 2}]}

``type`` is optional (metrics are broken down by it); ``anchor`` is optional (the judgment is
the page). Judgments naming a page or anchor the store does not hold are reported and left out
of the scores: a typo in the golden set must not look like a search miss.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingestq.errors import PayloadError
from ingestq.ingest.eval_metrics import (
    LEVELS,
    Hit,
    Judgment,
    Scores,
    mean_scores,
    percentile,
    score_hits,
)


@dataclass(frozen=True)
class Answer:
    """What a transport's search returned: the hits, and what the replies cost to carry."""

    hits: Sequence[Hit]
    tokens: int | None = None  # tokens of the replies' text, by the server's counter
    calls: int = 1  # round trips (a reply cut by a token budget continues by cursor)
    # the transport's own timing of the calls, when the caller's adds a bridge of its own (a
    # synchronous runner calling into an event loop thread): what the runner times otherwise
    seconds: float | None = None


SearchFn = Callable[[str, int], Sequence[Hit] | Answer]
# page path -> anchors of its sections, as the store holds them
KnownTargets = Mapping[str, frozenset[str]]
WORST_SHOWN = 5


@dataclass(frozen=True)
class GoldenQuery:
    """One query of a golden set with its graded judgments."""

    id: str
    query: str
    judgments: tuple[Judgment, ...]
    type: str | None = None


@dataclass(frozen=True)
class UnknownJudgment:
    """A judgment naming a page or anchor that the store does not hold."""

    query_id: str
    path: str
    anchor: str | None
    reason: str  # "no such page" or "no such anchor"


@dataclass(frozen=True)
class Baseline:
    """The same query through the baseline search, run back to back with the measured one."""

    hits: tuple[Hit, ...]
    seconds: float
    first_difference: int | None  # first rank (from 1) where the rankings differ; None: equal


@dataclass(frozen=True)
class QueryResult:
    """What one query returned, how long it took and how it scored per level."""

    query: GoldenQuery
    hits: tuple[Hit, ...]
    seconds: float
    scores: dict[str, Scores]  # by level
    tokens: int | None = None
    calls: int = 1
    baseline: Baseline | None = None


@dataclass
class EvalReport:
    """The whole run: means per level and per type, latency, the worst queries, unknowns."""

    k: int
    results: list[QueryResult]
    unknown: list[UnknownJudgment]
    unscored: list[str] = field(default_factory=list)  # ids with no known judgment left
    overall: dict[str, Scores] = field(default_factory=dict)
    by_type: dict[str, dict[str, Scores]] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    # with a baseline: its latency, and the per-query difference (measured - baseline)
    baseline_latency_ms: dict[str, float] = field(default_factory=dict)
    added_ms: dict[str, float] = field(default_factory=dict)

    @property
    def differing(self) -> list[QueryResult]:
        """The queries whose ranking differs from the baseline's."""
        return [r for r in self.results
                if r.baseline is not None and r.baseline.first_difference is not None]

    def worst(self, count: int = WORST_SHOWN, level: str = "section") -> list[QueryResult]:
        """The ``count`` queries with the lowest nDCG at ``level``, worst first."""
        return sorted(self.results, key=lambda r: (r.scores[level].ndcg, r.query.id))[:count]


def load_golden(path: Path) -> list[GoldenQuery]:
    """Read a golden set; a malformed line is a PayloadError naming the line."""
    queries: list[GoldenQuery] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                query = _parse_query(json.loads(line))
            except (ValueError, TypeError, KeyError) as exc:
                raise PayloadError(f"{path}:{number}: {exc}") from exc
            if query.id in seen:
                raise PayloadError(f"{path}:{number}: duplicate id {query.id!r}")
            seen.add(query.id)
            queries.append(query)
    return queries


def _parse_query(data: object) -> GoldenQuery:
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    query, qid, kind = data["query"], data["id"], data.get("type")
    if not isinstance(query, str) or not query.strip() or not isinstance(qid, str):
        raise ValueError("'id' and 'query' must be non-empty strings")
    if kind is not None and not isinstance(kind, str):
        raise ValueError("'type' must be a string")
    raw = data["judgments"]
    if not isinstance(raw, list) or not raw:
        raise ValueError("'judgments' must be a non-empty list")
    return GoldenQuery(qid, query, tuple(_parse_judgment(j) for j in raw), kind)


def _parse_judgment(data: object) -> Judgment:
    if not isinstance(data, dict):
        raise ValueError("a judgment must be an object")
    path, anchor, grade = data["path"], data.get("anchor"), data["grade"]
    if not isinstance(path, str) or not path or path.startswith("/"):
        raise ValueError(f"judgment path {path!r} must be relative to the ingest root")
    if anchor is not None and not isinstance(anchor, str):
        raise ValueError("'anchor' must be a string")
    if not isinstance(grade, int) or isinstance(grade, bool) or grade not in (0, 1, 2):
        raise ValueError(f"grade {grade!r} must be 0, 1 or 2")
    return Judgment(path, anchor or None, grade)


def check_judgments(
    queries: Sequence[GoldenQuery], known: KnownTargets
) -> tuple[list[GoldenQuery], list[UnknownJudgment]]:
    """Split off judgments the store cannot satisfy; return the queries with what remains.

    An unknown anchor on a known page still counts at page level, so it is kept as a page
    judgment there and dropped at section level by giving it an anchor no hit can have.
    """
    unknown: list[UnknownJudgment] = []
    kept: list[GoldenQuery] = []
    for q in queries:
        judgments: list[Judgment] = []
        for j in q.judgments:
            anchors = known.get(j.path)
            if anchors is None:
                unknown.append(UnknownJudgment(q.id, j.path, j.anchor, "no such page"))
            elif j.anchor is not None and j.anchor not in anchors:
                unknown.append(UnknownJudgment(q.id, j.path, j.anchor, "no such anchor"))
                judgments.append(Judgment(j.path, _UNMATCHABLE, j.grade))
            else:
                judgments.append(j)
        kept.append(GoldenQuery(q.id, q.query, tuple(judgments), q.type))
    return kept, unknown


_UNMATCHABLE = "\x00unknown-anchor"  # never a real anchor: such a judgment scores pages only


def _section_judgments(judgments: Sequence[Judgment]) -> list[Judgment]:
    return [j for j in judgments if j.anchor != _UNMATCHABLE]


def run_eval(
    queries: Sequence[GoldenQuery], search: SearchFn, *, k: int = 10,
    known: KnownTargets | None = None, baseline: SearchFn | None = None,
) -> EvalReport:
    """Run every query through ``search`` and score it; ``known`` enables the unknown check.

    With ``baseline``, each query also runs through it, right before or right after ``search``
    (alternately, so neither profits from the other warming caches), and the first query runs
    once through both untimed: first calls open stores and load models.
    """
    checked, unknown = (list(queries), []) if known is None else check_judgments(queries, known)
    report = EvalReport(k=k, results=[], unknown=unknown)
    scored = [q for q in checked if any(j.grade > 0 for j in q.judgments)]
    report.unscored = [q.id for q in checked if not any(j.grade > 0 for j in q.judgments)]
    if baseline is not None and scored:
        search(scored[0].query, k)
        baseline(scored[0].query, k)
    for number, q in enumerate(scored):
        base: tuple[Answer, float] | None = None
        if baseline is not None and number % 2:
            base = _timed(baseline, q.query, k)
            answer, seconds = _timed(search, q.query, k)
        else:
            answer, seconds = _timed(search, q.query, k)
            base = _timed(baseline, q.query, k) if baseline is not None else None
        hits = tuple(answer.hits)
        scores = {
            "page": score_hits(hits, q.judgments, "page", k),
            "section": score_hits(hits, _section_judgments(q.judgments), "section", k),
        }
        compared = None if base is None else Baseline(
            tuple(base[0].hits), base[1], first_difference(base[0].hits, hits))
        report.results.append(QueryResult(q, hits, seconds, scores, answer.tokens, answer.calls,
                                          compared))
    _summarise(report)
    return report


def _timed(search: SearchFn, query: str, k: int) -> tuple[Answer, float]:
    started = time.perf_counter()
    found = search(query, k)
    seconds = time.perf_counter() - started
    if not isinstance(found, Answer):
        return Answer(tuple(found)), seconds
    return found, seconds if found.seconds is None else found.seconds


def first_difference(expected: Sequence[Hit], got: Sequence[Hit]) -> int | None:
    """The first rank (from 1) at which two rankings name different sections; None when they
    are the same list. Scores are not compared: a transport may round them."""
    for rank, (a, b) in enumerate(zip(expected, got, strict=False), 1):
        if (a.section_id, a.path, a.anchor) != (b.section_id, b.path, b.anchor):
            return rank
    return None if len(expected) == len(got) else min(len(expected), len(got)) + 1


def _summarise(report: EvalReport) -> None:
    report.overall = {lv: mean_scores([r.scores[lv] for r in report.results]) for lv in LEVELS}
    types = sorted({r.query.type for r in report.results if r.query.type})
    report.by_type = {
        t: {
            lv: mean_scores([r.scores[lv] for r in report.results if r.query.type == t])
            for lv in LEVELS
        }
        for t in types
    }
    report.latency_ms = _p50_p95([r.seconds for r in report.results])
    pairs = [(r.seconds, r.baseline.seconds) for r in report.results if r.baseline is not None]
    if pairs:
        report.baseline_latency_ms = _p50_p95([base for _, base in pairs])
        report.added_ms = _p50_p95([measured - base for measured, base in pairs])


def _p50_p95(seconds: Sequence[float]) -> dict[str, float]:
    millis = [s * 1000.0 for s in seconds]
    return {"p50": percentile(millis, 50), "p95": percentile(millis, 95)}
