"""Sections: heading tree, deterministic ids, GitHub anchors, order, token counts and hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ingestq.ingest.parsing.model import Document
from ingestq.ingest.parsing.parse import ParseOptions, parse_file, parse_text
from ingestq.ingest.parsing.sections import Slugger, github_slug
from ingestq.ingest.parsing.tokens import count_tokens


def parse(markdown: str, source_path: str = "/docs/page.md") -> Document:
    return parse_text(
        markdown, source_path=source_path, fmt="markdown", checksum="x", options=ParseOptions()
    )


def test_a_preamble_with_text_is_a_level_zero_section_titled_by_the_document() -> None:
    document = parse("Some intro.\n\n# Title\n\nbody\n")
    preamble = document.sections[0]
    assert (preamble.level, preamble.title, preamble.heading_path) == (0, "Title", ())
    assert (preamble.text, preamble.anchor, preamble.parent_id) == ("Some intro.", "", None)


def test_a_preamble_without_text_is_not_a_section() -> None:
    document = parse("\n  \n\n# Title\n\nbody\n")
    assert [s.level for s in document.sections] == [1]


def test_parents_follow_the_heading_tree_even_when_levels_are_skipped() -> None:
    document = parse("# A\n### A.x\n## A.1\n#### A.1.x\n# B\n")
    paths = [(s.heading_path, s.parent_id) for s in document.sections]
    ids = {s.heading_path: s.id for s in document.sections}
    assert paths == [
        (("A",), None),
        (("A", "A.x"), ids[("A",)]),
        (("A", "A.1"), ids[("A",)]),
        (("A", "A.1", "A.1.x"), ids[("A", "A.1")]),
        (("B",), None),
    ]


def test_order_counts_sections_from_zero() -> None:
    document = parse("intro\n\n# A\n## B\n# C\n")
    assert [s.order for s in document.sections] == [0, 1, 2, 3]


def test_identical_heading_paths_get_distinct_ids() -> None:
    document = parse("# A\n## Example\none\n## Example\ntwo\n")
    first, second = document.sections[1], document.sections[2]
    assert first.heading_path == second.heading_path
    assert first.id != second.id


def test_parsing_twice_gives_identical_records() -> None:
    markdown = "intro\n\n# A { #a }\n## Example\none\n## Example\ntwo [x](b.md)\n"
    assert parse(markdown) == parse(markdown)


def test_section_ids_do_not_depend_on_the_text_of_other_sections() -> None:
    before = parse("# A\n\nshort\n\n## B\n\nb text\n")
    after = parse("# A\n\nmuch longer text now\n\n## B\n\nb text\n")
    assert [s.id for s in before.sections] == [s.id for s in after.sections]
    assert before.sections[0].content_hash != after.sections[0].content_hash
    assert before.sections[1].content_hash == after.sections[1].content_hash


def test_the_same_headings_in_another_document_get_other_ids() -> None:
    one = parse("# A\n", source_path="/docs/one.md")
    two = parse("# A\n", source_path="/docs/two.md")
    assert one.sections[0].id != two.sections[0].id


def test_ids_are_32_hex_characters() -> None:
    document = parse("# A\n\ntext\n")
    for value in (document.id, document.sections[0].id, document.chunks[0].id):
        assert len(value) == 32 and int(value, 16) >= 0


def test_content_hash_is_sha256_of_title_newline_text() -> None:
    only = parse("# Title\n\nBody text.\n").sections[0]
    assert only.content_hash == hashlib.sha256(b"Title\nBody text.").hexdigest()


def test_github_slugs_drop_punctuation_and_keep_non_latin_letters() -> None:
    assert github_slug("Import Pydantic's BaseModel") == "import-pydantics-basemodel"
    assert github_slug("What is `async`? (Part 2)") == "what-is-async-part-2"
    assert github_slug("Привет, мир!") == "привет-мир"
    assert github_slug("Пример: Ґанок і Їжак") == "пример-ґанок-і-їжак"
    assert github_slug("リクエストボディ 入門") == "リクエストボディ-入門"
    assert github_slug("한국어 제목") == "한국어-제목"
    assert github_slug("snake_case and-dash") == "snake_case-and-dash"


def test_duplicate_slugs_get_numbered_suffixes_like_github() -> None:
    slugger = Slugger()
    assert [slugger.slug(t) for t in ["Intro", "Intro", "Intro-1", "Intro"]] == [
        "intro",
        "intro-1",
        "intro-1-1",
        "intro-2",
    ]


def test_custom_ids_are_reserved_so_generated_slugs_avoid_them() -> None:
    document = parse("# Setup { #usage }\n# Usage\n")
    assert [s.anchor for s in document.sections] == ["usage", "usage-1"]


def test_token_counts_treat_each_cjk_character_as_a_token() -> None:
    assert count_tokens("日本語のテキスト") == 8
    assert count_tokens("한국어 제목") == 5


def test_token_counts_treat_words_and_punctuation_as_tokens() -> None:
    assert count_tokens("Hello, world! 42 times") == 6
    assert count_tokens("Привет, мир") == 3


def test_section_token_count_is_the_count_of_its_text() -> None:
    only = parse("# Title words here\n\nthree word text\n").sections[0]
    assert only.token_count == 3


def test_a_symlinked_file_has_the_same_section_ids_as_its_target(tmp_path: Path) -> None:
    target = tmp_path / "page.md"
    target.write_text("# A\n\ntext\n## B\n\nmore\n", encoding="utf-8")
    (tmp_path / "alias.md").symlink_to(target)
    direct = parse_file(target, ParseOptions())
    via_link = parse_file(tmp_path / "alias.md", ParseOptions())
    assert [s.id for s in direct.sections] == [s.id for s in via_link.sections]
