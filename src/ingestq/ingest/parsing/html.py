"""HTML to Outline with the standard library's ``html.parser``.

Why the stdlib and not selectolax: it needs no compiled dependency, it never raises on malformed
markup, and HTML is the minority format here (the corpus and the operators' docs are Markdown),
so selectolax's speed would not show in the pipeline's time while its wheel would add to every
install.

The parser builds a small element tree, picks the main content (the ``main`` landmark role,
else ``<article>``, ``<main>``, ``<body>``, everything), drops page chrome told by structure
(:mod:`ingestq.ingest.html_chrome`: furniture elements, non-main landmarks, the generators'
sidebar, breadcrumb, previous/next and permalink classes) and walks the rest: ``h1``-``h6``
open sections, block elements separate paragraphs, ``<pre>`` keeps its whitespace, ``<a href>``
and ``<img src>`` become links. The document title is ``<title>``.

A section's anchor is an id the page itself defines: the heading's own, else the fragment of
the heading's permalink, else the id of the element the heading opens (Sphinx puts it on the
enclosing ``<section>``); a slug is made only when the page has none. Permalink markers (``¶``,
``#``, ``🔗``) are not part of heading titles.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

from ingestq.errors import PermanentError
from ingestq.ingest.parsing.html_chrome import is_chrome, is_permalink, strip_permalink_marker
from ingestq.ingest.parsing.links import make_link
from ingestq.ingest.parsing.sections import Outline, RawSection, clean_title

# Elements that never have children (no end tag), so they are never pushed on the open stack.
VOID_ELEMENTS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
# Elements whose boundaries separate paragraphs of text.
BLOCK_ELEMENTS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
    }
)
HEADINGS = {f"h{level}": level for level in range(1, 7)}
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    children: list[_Element | str] = field(default_factory=list)


class _TreeBuilder(HTMLParser):
    """Builds an _Element tree, tolerating unclosed and stray end tags as browsers do (roughly)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root", {})
        self.stack: list[_Element] = [self.root]
        self.title_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HEADINGS:
            # Headings never nest: an unclosed one ends where the next begins, as in browsers.
            self._close_open_heading()
        element = _Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID_ELEMENTS:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(_Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        # Close up to the matching open element; an end tag with no open match is ignored.
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def _close_open_heading(self) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag in HEADINGS:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if any(element.tag == "title" for element in self.stack):
            self.title_parts.append(data)
        self.stack[-1].children.append(data)


def _find_first(element: _Element, wanted: Callable[[_Element], bool]) -> _Element | None:
    pending: deque[_Element] = deque([element])
    while pending:
        current = pending.popleft()
        if wanted(current):
            return current
        pending.extend(child for child in current.children if isinstance(child, _Element))
    return None


def main_content(root: _Element) -> _Element:
    """The element holding the page's main content.

    The ``main`` landmark role first (Sphinx's ``div.body``, Read the Docs, Furo), then
    ``<article>`` (MkDocs Material and Docusaurus put the page in one inside a ``<main>`` that
    also holds the sidebars), then ``<main>``, ``<body>``, everything.
    """
    found = _find_first(root, lambda e: e.attrs.get("role", "").strip() == "main")
    for tag in ("article", "main", "body"):
        found = found or _find_first(root, _has_tag(tag))
    return found or root


def _has_tag(tag: str) -> Callable[[_Element], bool]:
    return lambda element: element.tag == tag


def _text_of(element: _Element) -> str:
    return "".join(c if isinstance(c, str) else _text_of(c) for c in element.children)


def _leading_heading(element: _Element) -> _Element | None:
    """The heading that opens ``element`` (only empty elements before it), if one does."""
    for child in element.children:
        if isinstance(child, str):
            if child.strip():
                return None
        elif child.tag in HEADINGS:
            return child
        elif _text_of(child).strip():
            return None
    return None


def _permalink_anchor(heading: _Element) -> str | None:
    """The fragment of the heading's link to itself: the id the generator gave its section."""
    link = _find_first(heading, lambda e: is_permalink(e.tag, e.attrs))
    href = link.attrs.get("href", "") if link is not None else ""
    return href[1:].strip() or None if href.startswith("#") else None


# Sectioning elements: a <header> inside one is its heading block, not the site banner.
_SECTIONING = frozenset(["article", "main", "section"])


class _Walker:
    """Walks the content tree and fills sections with paragraphs of text."""

    def __init__(self, source_path: str, *, in_section: bool = True) -> None:
        self.source_path = source_path
        self.sections: list[RawSection] = [RawSection(level=0, title="")]
        self.paragraphs: list[str] = []
        self.current: list[str] = []
        self.in_section = in_section
        # heading -> id of the element it opens (Sphinx puts the id on <section>, not <h2>)
        self.container_ids: dict[int, str] = {}

    def walk(self, element: _Element, preformatted: bool = False) -> None:
        for child in element.children:
            if isinstance(child, str):
                self.current.append(child if preformatted else _SPACES.sub(" ", child))
            elif child.tag in HEADINGS:
                self.start_heading(child)
            elif not self._skipped(child):
                self.visit(child, preformatted)

    def _skipped(self, element: _Element) -> bool:
        if element.tag == "header":
            return not self.in_section  # the site banner, outside any article or section
        return is_chrome(element.tag, element.attrs)

    def visit(self, element: _Element, preformatted: bool) -> None:
        if element.tag == "br":
            self.current.append("\n")
        elif element.tag == "img" and element.attrs.get("src"):
            alt = element.attrs.get("alt", "")
            self.current.append(alt)
            self.sections[-1].links.append(make_link(element.attrs["src"], alt, self.source_path))
        element_id = element.attrs.get("id", "").strip()
        heading = _leading_heading(element) if element_id else None
        if heading is not None:
            self.container_ids[id(heading)] = element_id
        is_block = element.tag in BLOCK_ELEMENTS
        if is_block:
            self.end_paragraph()
        begin = len(self.current)
        was_in_section = self.in_section
        self.in_section = was_in_section or element.tag in _SECTIONING
        self.walk(element, preformatted or element.tag == "pre")
        self.in_section = was_in_section
        if element.tag == "a" and element.attrs.get("href"):
            text = "".join(self.current[begin:])
            self.sections[-1].links.append(make_link(element.attrs["href"], text, self.source_path))
        if is_block:
            self.end_paragraph(keep_indent=element.tag == "pre")

    def start_heading(self, heading: _Element) -> None:
        self.finish_section()
        title_walker = _Walker(self.source_path)
        title_walker.walk(_without_permalinks(heading))
        title_walker.finish_section()
        raw_title = title_walker.sections[0]
        # The page's own ids, so a printed path#anchor opens here; a slug only without one.
        anchor = (
            heading.attrs.get("id", "").strip()
            or _permalink_anchor(heading)
            or self.container_ids.get(id(heading))
        )
        self.sections.append(
            RawSection(
                level=HEADINGS[heading.tag],
                title=strip_permalink_marker(clean_title(raw_title.text)),
                custom_anchor=anchor or None,
                links=raw_title.links,
            )
        )

    def end_paragraph(self, *, keep_indent: bool = False) -> None:
        joined = "".join(self.current)
        # Preformatted text keeps the indentation of its first line; prose loses stray spaces.
        paragraph = joined.strip("\r\n").rstrip() if keep_indent else joined.strip()
        if paragraph.strip():
            self.paragraphs.append(paragraph)
        self.current = []

    def finish_section(self) -> None:
        self.end_paragraph()
        self.sections[-1].text = "\n\n".join(self.paragraphs)
        self.paragraphs = []


def _without_permalinks(heading: _Element) -> _Element:
    kept = [c for c in heading.children if isinstance(c, str) or not is_permalink(c.tag, c.attrs)]
    return _Element(heading.tag, heading.attrs, kept)


def parse_html(text: str, source_path: str) -> Outline:
    """Parse HTML into an Outline from its main content; malformed markup never fails."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    content = main_content(builder.root)
    walker = _Walker(source_path, in_section=content.tag in _SECTIONING or content.attrs.get(
        "role", "").strip() == "main")
    try:
        walker.walk(content)
    except RecursionError as exc:
        # The walk recurses once per element level; thousands of nested elements is not a page.
        raise PermanentError(f"HTML in {source_path!r} is nested too deeply to parse") from exc
    walker.finish_section()
    title = clean_title("".join(builder.title_parts))
    return Outline(sections=walker.sections, declared_title=title or None)
