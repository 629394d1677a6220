"""Markdown parsing: titles, custom ids, admonitions, raw HTML, code, tables and links."""

from __future__ import annotations

from pathlib import Path

from ingestq.ingest.parsing.model import Document, Section
from ingestq.ingest.parsing.parse import ParseOptions, document_id_for, parse_text

SOURCE = "/docs/en/tutorial/page.md"


def parse(markdown: str, source_path: str = SOURCE) -> Document:
    return parse_text(
        markdown, source_path=source_path, fmt="markdown", checksum="x", options=ParseOptions()
    )


def section(document: Document, title: str) -> Section:
    return next(s for s in document.sections if s.title == title)


def test_the_front_matter_title_is_the_document_title() -> None:
    document = parse('---\ntitle: "From front matter"\nhide: [nav]\n---\n\n# Heading\n\ntext\n')
    assert document.title == "From front matter"


def test_without_front_matter_title_the_first_h1_is_the_document_title() -> None:
    document = parse("---\nhide:\n  - navigation\n---\n\nintro\n\n## Sub\n\n# Real { #real }\n")
    assert document.title == "Real"


def test_without_any_title_the_file_stem_is_the_document_title() -> None:
    document = parse("## Only a subheading\n\ntext\n", source_path="/docs/getting-started.md")
    assert document.title == "getting-started"


def test_malformed_front_matter_is_a_warning_not_a_failure() -> None:
    document = parse("---\ntitle: [unclosed\n---\n\n# Fine\n")
    assert document.title == "Fine"
    assert any("front matter" in warning for warning in document.warnings)


def test_a_custom_heading_id_becomes_the_anchor_and_leaves_the_title() -> None:
    document = parse("# Request Body { #request-body-custom }\n\ntext\n")
    only = document.sections[0]
    assert (only.title, only.anchor) == ("Request Body", "request-body-custom")


def test_inline_code_in_a_heading_is_plain_text_in_the_title() -> None:
    document = parse("## Import Pydantic's `BaseModel` { #import-basemodel }\n")
    assert document.sections[0].title == "Import Pydantic's BaseModel"


def test_a_bang_admonition_keeps_its_title_and_body_as_text() -> None:
    document = parse('# T\n\n!!! warning "Mind the gap"\n    Body of the **warning**.\n\nafter\n')
    assert document.sections[0].text == "Mind the gap\n\nBody of the warning.\n\nafter"


def test_slash_blocks_become_their_title_and_body_without_markers() -> None:
    markdown = (
        "# T\n\n/// note | Nota\n\nInner *note*.\n\n///\n\n"
        "//// tab | Python 3.10+\n\n/// tip\n\nNested tip.\n\n///\n\n````\ncode\n````\n\n////\n\n"
        "## Next\n\nnext text\n"
    )
    document = parse(markdown)
    text = section(document, "T").text
    assert text == "Nota\n\nInner note.\n\nPython 3.10+\n\nTip\n\nNested tip.\n\n````\ncode\n````"
    assert section(document, "Next").text == "next text"


def test_an_unclosed_slash_block_runs_to_the_end_without_failing() -> None:
    document = parse("# T\n\n/// note\n\ndangling\n")
    assert document.sections[0].text == "Note\n\ndangling"


def test_raw_html_is_kept_as_text() -> None:
    document = parse('# T\n\n<p align="center">\n  <em>Fast</em>\n</p>\n\nSee <b>bold</b>.\n')
    assert (
        document.sections[0].text == '<p align="center">\n  <em>Fast</em>\n</p>\n\nSee <b>bold</b>.'
    )


def test_fenced_code_is_kept_as_text_and_its_comments_are_not_headings() -> None:
    document = parse("# T\n\n```python\n# not a heading\nx = 1\n```\n")
    assert [s.title for s in document.sections] == ["T"]
    assert document.sections[0].text == "```python\n# not a heading\nx = 1\n```"


def test_tables_become_one_line_per_row() -> None:
    document = parse("# T\n\n| Name | Type |\n|------|------|\n| id | `int` |\n")
    assert document.sections[0].text == "Name | Type\nid | `int`"


def test_list_items_keep_their_markers() -> None:
    document = parse("# T\n\n* one\n* two\n    1. nested\n")
    assert document.sections[0].text == "- one\n- two\n  1. nested"


def test_include_directives_stay_as_text() -> None:
    document = parse("# T\n\n{* ../../docs_src/body/tutorial001_py310.py hl[2] *}\n")
    assert document.sections[0].text == "{* ../../docs_src/body/tutorial001_py310.py hl[2] *}"


def test_relative_links_to_documents_resolve_to_document_ids_without_fragment() -> None:
    document = parse("# T\n\nSee [body](../body.md#request-body) and [home](index.html).\n")
    links = {link.href: link for link in document.sections[0].links}
    assert links["../body.md#request-body"].text == "body"
    assert links["../body.md#request-body"].target_document_id == document_id_for(
        "/docs/en/body.md"
    )
    assert links["index.html"].target_document_id == document_id_for("/docs/en/tutorial/index.html")


def test_external_links_and_fragments_have_no_target_document() -> None:
    document = parse("# T\n\n[site](https://example.com/a.md) [here](#t) [mail](mailto:a@b.c)\n")
    assert [link.target_document_id for link in document.sections[0].links] == [None] * 3


def test_image_links_are_collected_with_their_alt_text() -> None:
    document = parse("# T\n\n![Swagger UI](/img/index/index-01-swagger-ui-simple.png)\n")
    only = document.sections[0]
    assert only.text == "Swagger UI"
    assert [(link.href, link.text) for link in only.links] == [
        ("/img/index/index-01-swagger-ui-simple.png", "Swagger UI")
    ]


def test_link_text_replaces_link_syntax_in_section_text() -> None:
    document = parse("# T\n\nUse [Pydantic](https://pydantic.dev/) models.\n")
    assert document.sections[0].text == "Use Pydantic models."


def test_percent_encoded_relative_links_resolve_to_the_decoded_file(tmp_path: Path) -> None:
    source = str(tmp_path / "a.md")
    document = parse("# T\n\n[x](my%20page.md)\n", source_path=source)
    assert document.sections[0].links[0].target_document_id == document_id_for(
        tmp_path / "my page.md"
    )
