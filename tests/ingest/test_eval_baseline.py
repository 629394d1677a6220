"""The eval runner with a baseline: each query through both searches, the first rank where the
rankings part, the transport's reply sizes carried through."""

from __future__ import annotations

from ingestq.ingest.eval_metrics import Hit, Judgment
from ingestq.ingest.eval_run import Answer, GoldenQuery, first_difference, run_eval


def hits(*ids: str) -> list[Hit]:
    return [Hit(f"{i}.md", i, 1.0 / n, section_id=f"s-{i}") for n, i in enumerate(ids, 1)]


QUERIES = [GoldenQuery(q, q, (Judgment("a.md", None, 2),)) for q in ("q0", "q1", "q2")]


def test_first_difference_names_the_rank_where_two_rankings_part() -> None:
    assert first_difference(hits("a", "b", "c"), hits("a", "b", "c")) is None
    assert first_difference(hits("a", "b", "c"), hits("a", "c", "b")) == 2
    assert first_difference(hits("a", "b", "c"), hits("a", "b")) == 3  # one came back short
    assert first_difference([], hits("a")) == 1
    # same page and anchor, another section: not the same ranking
    other = [Hit("a.md", "a", 1.0, section_id="elsewhere")]
    assert first_difference(hits("a"), other) == 1
    # scores are not compared: a transport may round them
    assert first_difference(hits("a"), [Hit("a.md", "a", 0.123456, section_id="s-a")]) is None


def test_each_query_runs_through_both_alternately_after_one_untimed_warm_up() -> None:
    calls: list[tuple[str, str]] = []

    def measured(query: str, k: int) -> Answer:
        calls.append(("measured", query))
        ranked = hits("a", "c", "b") if query == "q2" else hits("a", "b", "c")
        return Answer(ranked[:k], tokens=100 + len(query), calls=2)

    def baseline(query: str, k: int) -> list[Hit]:
        calls.append(("baseline", query))
        return hits("a", "b", "c")[:k]

    report = run_eval(QUERIES, measured, k=3, baseline=baseline)
    assert calls == [("measured", "q0"), ("baseline", "q0"),  # warm-up, untimed
                     ("measured", "q0"), ("baseline", "q0"),
                     ("baseline", "q1"), ("measured", "q1"),
                     ("measured", "q2"), ("baseline", "q2")]
    assert [r.baseline.first_difference for r in report.results if r.baseline] == [None, None, 2]
    assert [r.query.id for r in report.differing] == ["q2"]
    assert all(r.tokens == 102 and r.calls == 2 for r in report.results)
    assert set(report.added_ms) == set(report.baseline_latency_ms) == {"p50", "p95"}


def test_without_a_baseline_nothing_is_compared_or_warmed() -> None:
    calls: list[str] = []

    def search(query: str, k: int) -> list[Hit]:
        calls.append(query)
        return hits("a")

    report = run_eval(QUERIES, search, k=3)
    assert calls == ["q0", "q1", "q2"]
    assert not report.differing and report.added_ms == {}
    assert all(r.baseline is None and r.tokens is None for r in report.results)


def test_a_transport_that_times_its_own_calls_is_reported_with_that_time() -> None:
    # (a synchronous runner's hop into the client's event loop is not the transport's cost)
    report = run_eval(QUERIES, lambda q, k: Answer(hits("a"), seconds=0.25), k=3,
                      baseline=lambda q, k: hits("a"))
    assert all(r.seconds == 0.25 for r in report.results)
    assert report.latency_ms == {"p50": 250.0, "p95": 250.0}
    assert 240.0 < report.added_ms["p50"] <= 250.0
