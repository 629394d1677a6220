"""Chunks: sized near chunk_tokens, overlapping, cut at boundaries, prefixed and deterministic."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from ingestq.ingest.parsing.chunking import split_text
from ingestq.ingest.parsing.model import Document
from ingestq.ingest.parsing.parse import ParseOptions, parse_text
from ingestq.ingest.parsing.tokens import InputLimit, count_tokens


def parse(markdown: str, chunk_tokens: int = 400, overlap: int = 50) -> Document:
    options = ParseOptions(chunk_tokens=chunk_tokens, chunk_overlap_tokens=overlap)
    return parse_text(
        markdown, source_path="/docs/guide.md", fmt="markdown", checksum="x", options=options
    )


def paragraph(index: int, words: int = 30) -> str:
    return " ".join(f"p{index}w{n}" for n in range(words)) + "."


def test_a_short_section_is_one_chunk_prefixed_with_its_heading_path() -> None:
    document = parse("# Guide\n\n## Install\n\nRun pip.\n")
    assert [chunk.text for chunk in document.chunks] == ["Guide > Install\n\nRun pip."]


def test_the_document_title_heads_the_prefix_when_the_path_does_not_start_with_it() -> None:
    document = parse("---\ntitle: Manual\n---\n\n## Install\n\nRun pip.\n")
    assert document.chunks[0].text.splitlines()[0] == "Manual > Install"


def test_a_section_without_text_yields_no_chunk() -> None:
    document = parse("# Guide\n\n## Install\n\nRun pip.\n")
    assert [chunk.section_id for chunk in document.chunks] == [document.sections[1].id]


def test_a_long_section_is_split_into_chunks_near_the_target_size() -> None:
    body = "\n\n".join(paragraph(i) for i in range(20))  # 20 paragraphs of 31 tokens
    document = parse(f"# Guide\n\n{body}\n", chunk_tokens=100, overlap=0)
    bodies = [chunk.text.split("\n\n", 1)[1] for chunk in document.chunks]
    assert len(bodies) == 7
    assert all(count_tokens(b) <= 100 for b in bodies)
    assert "\n\n".join(bodies) == body  # no overlap: the chunks tile the text exactly


def test_chunks_cut_on_paragraph_boundaries_when_paragraphs_fit() -> None:
    body = "\n\n".join(paragraph(i) for i in range(6))
    for chunk_body in split_text(body, 100, 0):
        assert chunk_body.startswith("p") and chunk_body.endswith(".")
        assert "w0 " in chunk_body.split("\n\n")[0]  # every chunk starts at a paragraph start


def test_consecutive_chunks_overlap_by_whole_units_within_the_budget() -> None:
    body = "\n\n".join(paragraph(i, words=9) for i in range(12))  # 12 paragraphs of 10 tokens
    bodies = split_text(body, 50, 20)
    for previous, following in itertools.pairwise(bodies):
        carried = previous.split("\n\n")[-2:]
        assert following.split("\n\n")[:2] == carried


def test_a_paragraph_too_long_for_one_chunk_is_cut_at_sentences() -> None:
    sentences = [f"Sentence {n} has exactly seven tokens." for n in range(30)]
    bodies = split_text(" ".join(sentences), 50, 0)
    assert len(bodies) > 1
    assert all(b.startswith("Sentence") and b.endswith(".") for b in bodies)


def test_cjk_text_without_spaces_is_cut_at_ideographic_full_stops() -> None:
    text = "".join(f"これは文{n}です。" for n in range(40))  # 7 tokens per sentence
    bodies = split_text(text, 30, 0)
    assert len(bodies) > 1
    assert all(b.endswith("。") and count_tokens(b) <= 30 for b in bodies)
    assert "".join(bodies) == text


def test_text_without_any_boundary_is_cut_into_token_windows() -> None:
    text = " ".join(f"w{n}" for n in range(250))
    bodies = split_text(text, 100, 0)
    assert [count_tokens(b) for b in bodies] == [100, 100, 50]


def test_chunk_ids_and_hashes_are_deterministic() -> None:
    markdown = "# Guide\n\n" + "\n\n".join(paragraph(i) for i in range(10))
    first, second = parse(markdown, 100, 20), parse(markdown, 100, 20)
    assert [c.id for c in first.chunks] == [c.id for c in second.chunks]
    assert len({c.id for c in first.chunks}) == len(first.chunks)
    for chunk in first.chunks:
        assert chunk.content_hash == hashlib.sha256(chunk.text.encode()).hexdigest()
        assert chunk.token_count == count_tokens(chunk.text)


def test_chunk_ordinals_count_from_zero_within_each_section() -> None:
    markdown = "# A\n\n" + "\n\n".join(paragraph(i) for i in range(8)) + "\n\n# B\n\nshort\n"
    document = parse(markdown, 100, 0)
    ordinals = [(c.section_id, c.ordinal) for c in document.chunks]
    first, second = document.sections[0].id, document.sections[1].id
    assert ordinals == [(first, 0), (first, 1), (first, 2), (second, 0)]


def test_an_overlap_not_smaller_than_the_chunk_size_is_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        split_text("text", 10, 10)


def words(text: str) -> int:
    """A real, simple tokenizer for the limit tests: one token per whitespace-separated word."""
    return len(text.split())


def test_with_an_input_limit_every_chunk_fits_it_prefix_and_special_tokens_included() -> None:
    limit = InputLimit(max_tokens=40, count=words, reserved=2)
    markdown = "# Guide\n\n## A rather long heading here\n\n" + "\n\n".join(
        paragraph(i, words=9) for i in range(30))
    options = ParseOptions(chunk_tokens=400, chunk_overlap_tokens=50, input_limit=limit)
    document = parse_text(markdown, source_path="/docs/guide.md", fmt="markdown", checksum="x",
                          options=options)
    assert len(document.chunks) > 5
    for chunk in document.chunks:
        assert words(chunk.text) + limit.reserved <= limit.max_tokens
    again = parse_text(markdown, source_path="/docs/guide.md", fmt="markdown", checksum="x",
                       options=options)
    assert [c.id for c in again.chunks] == [c.id for c in document.chunks]
    assert [c.text for c in again.chunks] == [c.text for c in document.chunks]


def test_chunk_tokens_stays_the_bound_when_it_is_below_the_embedders_room() -> None:
    limit = InputLimit(max_tokens=1000, count=words)
    body = "\n\n".join(paragraph(i, words=9) for i in range(30))
    options = ParseOptions(chunk_tokens=40, chunk_overlap_tokens=0, input_limit=limit)
    document = parse_text(f"# Guide\n\n{body}\n", source_path="/docs/guide.md", fmt="markdown",
                          checksum="x", options=options)
    assert all(words(c.text.split("\n\n", 1)[1]) <= 40 for c in document.chunks)


def test_a_token_longer_than_the_limit_is_cut_by_characters() -> None:
    blob = "x" * 95  # one word, 95 "tokens" for a tokenizer that spends one per character
    bodies = split_text(f"start {blob} end", 30, 0, count=len)
    assert all(len(b) <= 30 for b in bodies)
    assert "".join(b.replace(" ", "") for b in bodies) == f"start{blob}end"
