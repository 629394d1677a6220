"""Search: a distinctive word finds its section lexically, word overlap finds it by vector."""

from __future__ import annotations

from ingestq.ingest.search import fts_query, search


def test_a_distinctive_word_finds_its_section_with_the_word_highlighted(pipeline, docs):
    pipeline.ingest_file(str(docs / "guide.md"))
    pipeline.ingest_file(str(docs / "other.md"))
    top = search(pipeline, "zanzibar", k=3)[0]
    assert top.heading_path == ("Guide", "Install") and top.anchor == "install"
    assert "**zanzibar**" in top.snippet
    assert top.source_path == str(docs / "guide.md") and top.title == "Guide"


def test_a_reworded_question_finds_the_section_by_vector_overlap(pipeline, docs):
    pipeline.ingest_file(str(docs / "guide.md"))
    pipeline.ingest_file(str(docs / "other.md"))
    results = search(pipeline, "what happens after the worker process dies", k=3)
    assert results[0].heading_path == ("Other page", "Recovery")


def test_the_vector_ranking_alone_puts_the_section_sharing_most_words_first(pipeline, docs):
    # The fused result could come from BM25 alone: look at the vector list by itself.
    from ingestq.ingest.search import vector_ranking

    pipeline.ingest_file(str(docs / "other.md"))
    pipeline.ingest_file(str(docs / "guide.md"))
    best, _ = vector_ranking(pipeline, "lease expires reaper puts job back", 5)[0]
    assert pipeline.manifest.chunk_info([best])[best].heading_path == ("Other page", "Recovery")


def test_search_sees_a_document_written_after_the_vector_matrix_was_cached(pipeline, docs):
    pipeline.ingest_file(str(docs / "guide.md"))
    assert all(r.title == "Guide" for r in search(pipeline, "reaper lease"))
    pipeline.ingest_file(str(docs / "other.md"))
    assert search(pipeline, "reaper lease")[0].title == "Other page"


def test_results_are_one_per_section_best_first(pipeline, docs):
    pipeline.ingest_file(str(docs / "guide.md"))
    results = search(pipeline, "guide details quokka install usage", k=10)
    sections = [r.section_id for r in results]
    assert len(sections) == len(set(sections))
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_query_syntax_characters_are_searched_as_words_not_operators():
    assert fts_query('NOT "quoted" (xy) NEAR*') == '"NOT" OR "quoted" OR "xy" OR "NEAR"'
    assert fts_query("?!") is None


def test_stop_words_and_single_letters_are_left_out_unless_nothing_else_remains():
    assert fts_query("how does a dead worker's job come back") == (
        '"dead" OR "worker" OR "job" OR "come" OR "back"')
    assert fts_query("the a") == '"the" OR "a"'
