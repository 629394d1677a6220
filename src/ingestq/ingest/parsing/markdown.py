"""Markdown to Outline with markdown-it-py: CommonMark plus tables, front matter and admonitions.

Section text is plain text rendered from the token stream: emphasis markers and link URLs are
dropped (link targets go to ``Section.links``), inline code keeps its backticks, fenced code keeps
its fences, raw HTML is kept verbatim, list items keep a ``-``/``1.`` marker, table rows become
``a | b`` lines, and an admonition (``!!! note "Title"`` or the FastAPI docs' ``/// note | Title``
blocks, nested with more slashes) becomes its title line followed by its body. Anything the
grammar does not know (``{* file *}`` include directives, links to missing files) stays text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.admon import admon_plugin
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from ingestq.ingest.parsing.links import make_link
from ingestq.ingest.parsing.model import Link
from ingestq.ingest.parsing.sections import Outline, RawSection, clean_title

# `{ #custom-id }` at the end of a heading (the attr_list syntax of MkDocs / the FastAPI docs).
CUSTOM_ID = re.compile(r"\s*\{\s*#([^\s{}]+)\s*\}\s*$")

# `/// name | title` blocks open on any slash run of 3+ followed by a name; a bare run closes.
_BLOCK_CONTAINER = "block"


def _has_block_name(params: str, _markup: str) -> bool:
    return bool(params.strip())


class _RawLinkMarkdownIt(MarkdownIt):
    """MarkdownIt that keeps hrefs as written.

    Nothing is rendered to HTML here, links.py decodes what it resolves, and percent-encoding
    every URL cost an eighth of the parse time.
    """

    def normalizeLink(self, url: str) -> str:
        """Return the URL unchanged."""
        return url

    def normalizeLinkText(self, link: str) -> str:
        """Return the link text unchanged."""
        return link


def _make_parser() -> MarkdownIt:
    return (
        _RawLinkMarkdownIt("commonmark")
        .enable("table")
        .use(front_matter_plugin)
        .use(admon_plugin)
        .use(container_plugin, _BLOCK_CONTAINER, marker="/", validate=_has_block_name)
    )


# Building the parser compiles its rules; one per process is enough (parsing keeps no state).
_PARSER = _make_parser()


def split_custom_id(title: str) -> tuple[str, str | None]:
    """Split ``Title { #id }`` into ("Title", "id"); a title without one gives (title, None)."""
    match = CUSTOM_ID.search(title)
    if match is None:
        return title, None
    return title[: match.start()], match.group(1)


def front_matter_title(yaml_text: str, warnings: list[str]) -> str | None:
    """The ``title`` of YAML front matter, or None; malformed YAML is a warning, not a failure."""
    try:
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        warnings.append(f"front matter is not valid YAML, ignored: {exc}")
        return None
    if isinstance(data, dict) and data.get("title") is not None:
        title = clean_title(str(data["title"]))
        return title or None
    return None


@dataclass
class _InlineText:
    """Plain text of one inline token and the links found in it."""

    text: str
    links: list[Link] = field(default_factory=list)


def render_inline(token: Token, source_path: str, *, code_ticks: bool = True) -> _InlineText:
    """Render an inline token's children as plain text, collecting links and images."""
    parts: list[str] = []
    links: list[Link] = []
    open_links: list[tuple[str, int]] = []  # (href, index into parts where its text starts)
    for child in token.children or []:
        kind = child.type
        if kind in ("text", "html_inline"):
            parts.append(child.content)
        elif kind == "code_inline":
            parts.append(f"`{child.content}`" if code_ticks else child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "link_open":
            open_links.append((str(child.attrs.get("href", "")), len(parts)))
        elif kind == "link_close" and open_links:
            href, begin = open_links.pop()
            links.append(make_link(href, "".join(parts[begin:]), source_path))
        elif kind == "image":
            parts.append(child.content)
            links.append(make_link(str(child.attrs.get("src", "")), child.content, source_path))
    return _InlineText("".join(parts), links)


class _Walker:
    """Walks the block tokens once, filling the current section with rendered blocks."""

    def __init__(self, source_path: str) -> None:
        self.source_path = source_path
        self.outline = Outline(sections=[RawSection(level=0, title="")])
        self.blocks: list[tuple[str, bool]] = []  # (text, joins the previous with one newline)
        self.list_stack: list[str] = []  # info of the open lists: "" bullet, "ordered" numbered
        self.pending_marker: str | None = None
        self.table_row: list[str] | None = None

    def walk(self, tokens: list[Token]) -> Outline:
        index = 0
        while index < len(tokens):
            index = self.visit(tokens, index)
        self.flush()
        return self.outline

    def visit(self, tokens: list[Token], index: int) -> int:
        token = tokens[index]
        kind = token.type
        if kind == "heading_open":
            self.start_heading(int(token.tag[1:]), tokens[index + 1])
            return index + 3
        if kind == "inline":
            self.add_inline(token)
        elif kind in ("fence", "code_block"):
            self.add_code(token)
        elif kind == "html_block":
            self.add_block(token.content.strip())
        elif kind == "front_matter":
            title = front_matter_title(token.content, self.outline.warnings)
            self.outline.declared_title = self.outline.declared_title or title
        elif kind == f"container_{_BLOCK_CONTAINER}_open":
            self.add_block(_block_label(token.info))
        else:
            self.visit_structure(token)
        return index + 1

    def visit_structure(self, token: Token) -> None:
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            self.list_stack.append("ordered" if kind == "ordered_list_open" else "")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.list_stack.pop()
        elif kind == "list_item_open":
            self.pending_marker = f"{token.info}." if self.list_stack[-1] else "-"
        elif kind == "tr_open":
            self.table_row = []
        elif kind == "tr_close" and self.table_row is not None:
            self.add_block(" | ".join(self.table_row), tight=True)
            self.table_row = None

    def start_heading(self, level: int, inline: Token) -> None:
        self.flush()
        rendered = render_inline(inline, self.source_path, code_ticks=False)
        title, custom_id = split_custom_id(rendered.text)
        self.outline.sections.append(
            RawSection(level=level, title=clean_title(title), custom_anchor=custom_id)
        )
        self.outline.sections[-1].links.extend(rendered.links)

    def add_inline(self, token: Token) -> None:
        rendered = render_inline(token, self.source_path)
        self.outline.sections[-1].links.extend(rendered.links)
        if self.table_row is not None:
            self.table_row.append(rendered.text.strip())
        else:
            self.add_block(rendered.text)

    def add_code(self, token: Token) -> None:
        if token.type == "fence":
            fence = token.markup or "```"
            self.add_block(f"{fence}{token.info.strip()}\n{token.content}{fence}")
        else:
            self.add_block(token.content.rstrip("\n"))

    def add_block(self, text: str, *, tight: bool = False) -> None:
        if not text.strip():
            return
        if self.pending_marker is not None:
            depth = "  " * (len(self.list_stack) - 1)
            text = f"{depth}{self.pending_marker} {text}"
            self.pending_marker = None
            tight = True
        self.blocks.append((text, tight or bool(self.list_stack)))

    def flush(self) -> None:
        pieces: list[str] = []
        for text, tight in self.blocks:
            if pieces:
                pieces.append("\n" if tight else "\n\n")
            pieces.append(text)
        self.outline.sections[-1].text = "".join(pieces)
        self.blocks = []


def _block_label(info: str) -> str:
    """The line an admonition block shows: its title after '|', else its capitalised name."""
    name, _, title = info.strip().partition("|")
    return title.strip() or name.strip().capitalize()


def parse_markdown(text: str, source_path: str) -> Outline:
    """Parse Markdown into an Outline; never fails on unknown syntax (it stays text)."""
    return _Walker(source_path).walk(_PARSER.parse(text))
