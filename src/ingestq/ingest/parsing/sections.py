"""From a format parser's flat outline to the Section tree: ids, parents, anchors, counts, hashes.

Every format parser (Markdown, HTML, plain text) produces the same ``Outline``: a list of
``RawSection`` in document order, each a heading (level 1..6) or the preamble (level 0) with the
text directly under it. This module alone decides identity and structure, so all formats agree.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ingestq.ingest.parsing.identity import sha256_text, short_hash
from ingestq.ingest.parsing.model import Link, Section
from ingestq.ingest.parsing.tokens import count_tokens


@dataclass
class RawSection:
    """A heading (or the level-0 preamble) and the text directly under it, before ids exist."""

    level: int
    title: str
    text: str = ""
    custom_anchor: str | None = None  # an explicit id (`{ #id }`, an HTML id attribute)
    links: list[Link] = field(default_factory=list)


@dataclass
class Outline:
    """What a format parser found: an optional declared title, the sections, and any warnings."""

    sections: list[RawSection]
    declared_title: str | None = None  # front matter `title` or HTML <title>
    warnings: list[str] = field(default_factory=list)


_WHITESPACE = re.compile(r"\s+")


def clean_title(title: str) -> str:
    """Collapse whitespace (and control characters) in a heading title to single spaces."""
    return _WHITESPACE.sub(" ", "".join(" " if ch < " " else ch for ch in title)).strip()


def github_slug(title: str) -> str:
    """Slug a heading as GitHub (github-slugger) does, before de-duplication.

    Lowercase; drop every character that is not a letter, mark, number, '-', '_' or space (so
    non-Latin letters stay); then each space becomes '-'.
    """
    kept = (
        ch for ch in title.lower() if ch in " -_" or unicodedata.category(ch)[0] in ("L", "M", "N")
    )
    return "".join(kept).replace(" ", "-")


class Slugger:
    """Hands out unique anchors in document order, suffixing repeats with -1, -2 like GitHub."""

    def __init__(self) -> None:
        """Start with no anchor taken."""
        self._occurrences: dict[str, int] = {}

    def slug(self, title: str) -> str:
        """Return the unique GitHub-style anchor for the next heading titled ``title``."""
        base = github_slug(title)
        candidate = base
        while candidate in self._occurrences:
            self._occurrences[base] += 1
            candidate = f"{base}-{self._occurrences[base]}"
        self._occurrences[candidate] = 0
        return candidate

    def reserve(self, anchor: str) -> str:
        """Record an explicit anchor so a later generated slug does not collide with it."""
        self._occurrences.setdefault(anchor, 0)
        return anchor


def section_id_for(document_id: str, heading_path: tuple[str, ...], ordinal: int) -> str:
    """Deterministic section id from the document, the heading path and its ordinal."""
    return short_hash("section", document_id, str(ordinal), *heading_path)


def build_sections(document_id: str, document_title: str, outline: Outline) -> list[Section]:
    """Turn an outline into Sections; a level-0 preamble is kept only when it has text."""
    sections: list[Section] = []
    stack: list[tuple[int, str, str]] = []  # (level, section id, title) of enclosing headings
    ordinals: dict[tuple[str, ...], int] = {}
    slugger = Slugger()
    for raw in outline.sections:
        path: tuple[str, ...]
        if raw.level == 0:
            if not raw.text.strip():
                continue
            title, path, anchor, parent_id = document_title, (), "", None
        else:
            while stack and stack[-1][0] >= raw.level:
                stack.pop()
            title = clean_title(raw.title)
            path = (*(entry[2] for entry in stack), title)
            parent_id = stack[-1][1] if stack else None
            anchor = (
                slugger.reserve(raw.custom_anchor) if raw.custom_anchor else slugger.slug(title)
            )
        ordinal = ordinals.get(path, 0)
        ordinals[path] = ordinal + 1
        text = raw.text.strip()
        section = Section(
            id=section_id_for(document_id, path, ordinal),
            document_id=document_id,
            parent_id=parent_id,
            level=raw.level,
            title=title,
            heading_path=path,
            anchor=anchor,
            order=len(sections),
            text=text,
            token_count=count_tokens(text),
            content_hash=sha256_text(f"{title}\n{text}"),
            links=tuple(raw.links),
        )
        sections.append(section)
        if raw.level > 0:
            stack.append((raw.level, section.id, title))
    return sections
