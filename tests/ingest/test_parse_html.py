"""HTML parsing: main content, dropped furniture, heading tree, anchors, title and links."""

from __future__ import annotations

import pytest

from ingestq.errors import PermanentError
from ingestq.ingest.parsing.model import Document
from ingestq.ingest.parsing.parse import ParseOptions, document_id_for, parse_text

PAGE = """<!doctype html>
<html><head><title>  The   Page </title><style>h1 { color: red }</style>
<script>var tracking = 1;</script></head>
<body>
<header><h1>Site banner</h1></header>
<nav><a href="/home.html">Home</a></nav>
<main>
  <h1 id="intro">Introduction</h1>
  <p>First <em>para</em>graph with <a href="guide/next.html#part">the next page</a>.</p>
  <script>alert("dropped")</script>
  <h2>Details</h2>
  <p>One<br>two</p>
  <pre>  indented
    code</pre>
  <h3 id="deep">Deep</h3>
  <ul><li>alpha<li>beta</ul>
  <h2>Details</h2>
  <p>again</p>
</main>
<aside>side note outside main</aside>
<footer>Copyright</footer>
</body></html>
"""


def parse(html: str, source_path: str = "/site/docs/page.html") -> Document:
    return parse_text(
        html, source_path=source_path, fmt="html", checksum="x", options=ParseOptions()
    )


def test_the_title_element_is_the_document_title() -> None:
    assert parse(PAGE).title == "The Page"


def test_without_a_title_element_the_first_h1_is_the_document_title() -> None:
    assert parse("<body><h1>Heading One</h1><p>x</p></body>").title == "Heading One"


def test_only_the_main_element_is_read_when_there_is_one() -> None:
    document = parse(PAGE)
    everything = " ".join(s.title + " " + s.text for s in document.sections)
    for outside in ("Site banner", "Home", "side note", "Copyright", "tracking", "dropped"):
        assert outside not in everything


def test_an_article_is_read_when_there_is_no_main() -> None:
    document = parse("<body><p>chrome</p><article><h1>A</h1><p>body</p></article></body>")
    assert [(s.title, s.text) for s in document.sections] == [("A", "body")]


def test_the_body_is_read_when_there_is_neither_main_nor_article() -> None:
    document = parse("<body><nav>menu</nav><p>plain body</p><footer>f</footer></body>")
    assert [(s.level, s.text) for s in document.sections] == [(0, "plain body")]


def test_headings_form_the_section_tree() -> None:
    intro, details, deep, details_again = parse(PAGE).sections
    assert [s.heading_path for s in (intro, details, deep, details_again)] == [
        ("Introduction",),
        ("Introduction", "Details"),
        ("Introduction", "Details", "Deep"),
        ("Introduction", "Details"),
    ]
    assert [s.level for s in (intro, details, deep, details_again)] == [1, 2, 3, 2]
    assert [s.parent_id for s in (intro, details, deep, details_again)] == [
        None,
        intro.id,
        details.id,
        intro.id,
    ]


def test_heading_id_attributes_become_anchors_and_others_get_slugs() -> None:
    anchors = [s.anchor for s in parse(PAGE).sections]
    assert anchors == ["intro", "details", "deep", "details-1"]


def test_block_elements_separate_paragraphs_and_pre_keeps_whitespace() -> None:
    details = parse(PAGE).sections[1]
    assert details.text == "One\ntwo\n\n  indented\n    code"


def test_links_resolve_relative_document_targets() -> None:
    intro = parse(PAGE).sections[0]
    assert intro.text == "First paragraph with the next page."
    assert [(link.href, link.text, link.target_document_id) for link in intro.links] == [
        ("guide/next.html#part", "the next page", document_id_for("/site/docs/guide/next.html"))
    ]


def test_malformed_markup_is_parsed_without_failing() -> None:
    html = "<main><h2>Broken</h2><p>unclosed <b>bold</i> text</div></div><h2>Next<h3>Sub</h3>y"
    document = parse(html)
    assert [(s.title, s.text) for s in document.sections] == [
        ("Broken", "unclosed bold text"),
        ("Next", ""),
        ("Sub", "y"),
    ]


def test_absurdly_deep_nesting_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match=r"page\.html.*nested too deeply"):
        parse("<div>" * 5000 + "deep" + "</div>" * 5000)
