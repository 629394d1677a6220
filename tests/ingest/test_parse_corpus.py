"""Smoke test on real documentation: a sample of the FastAPI docs, in English and other scripts."""

from __future__ import annotations

import re

import pytest
from support.corpus import FASTAPI_DOCS

from ingestq.ingest.parsing.parse import ParseOptions, parse_file

CORPUS = FASTAPI_DOCS
SAMPLE = [
    "en/index.md",  # front matter, raw HTML, badges (image links)
    "en/tutorial/body.md",  # /// admonitions, {* *} includes, custom ids
    "en/tutorial/dependencies/sub-dependencies.md",  # //// tabs nesting /// blocks
    "en/python-types.md",
    "en/release-notes.md",  # the largest file: thousands of links
    "ja/tutorial/body.md",
    "zh/tutorial/first-steps.md",
    "ru/tutorial/query-params.md",
]
CUSTOM_ID = re.compile(r"^#+ .*\{ ?#([^\s}]+) ?\}\s*$", re.MULTILINE)



@pytest.mark.parametrize("relative", SAMPLE)
def test_real_documents_parse_into_sections_and_chunks(relative: str) -> None:
    path = CORPUS / relative
    document = parse_file(path, ParseOptions(roots=(str(CORPUS),)))
    assert document.title and document.sections and document.chunks
    assert document.warnings == []
    for section in document.sections:
        assert "{ #" not in section.title and "{#" not in section.title
        assert section.level == 0 or section.anchor


@pytest.mark.parametrize("relative", SAMPLE)
def test_every_custom_heading_id_in_the_source_becomes_an_anchor(relative: str) -> None:
    path = CORPUS / relative
    expected = CUSTOM_ID.findall(path.read_text(encoding="utf-8"))
    document = parse_file(path, ParseOptions())
    anchors = [s.anchor for s in document.sections]
    assert [anchor for anchor in anchors if anchor in expected] == expected


def test_a_japanese_page_keeps_its_japanese_titles_and_counts_its_characters() -> None:
    document = parse_file(CORPUS / "ja/tutorial/body.md", ParseOptions())
    assert document.title == "リクエストボディ"
    first = document.sections[0]
    assert first.anchor == "request-body"
    assert first.token_count > len(first.text.split())  # CJK characters count one by one


def test_relative_links_between_corpus_pages_point_at_existing_documents() -> None:
    document = parse_file(CORPUS / "en/tutorial/body.md", ParseOptions())
    local = [
        link
        for section in document.sections
        for link in section.links
        if link.target_document_id is not None
    ]
    assert local, "body.md links to other tutorial pages"
    sample_target = (CORPUS / "en/tutorial" / local[0].href.split("#")[0]).resolve()
    assert sample_target.is_file()
    assert local[0].target_document_id == parse_file(sample_target, ParseOptions()).id
