"""The records that flow through the ingestion pipeline, shared by parsers, embedders and stores."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestq.ingest.parsing.identity import NO_LABELS, Labels


@dataclass(frozen=True)
class Link:
    """A link found in a section's text, resolved to a target document id when it is local."""

    href: str
    text: str
    target_document_id: str | None = None
    # The local file it names (normalised), kept so the target id can take the labels of the
    # document the link is in: a link inside version 2 leads to version 2's page.
    target_path: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Section:
    """One node of a document's heading tree, with the text directly under its heading.

    ``id`` is deterministic: derived from the document id, the heading path and the ordinal of
    this heading path among its siblings, so re-parsing the same file yields the same ids.
    """

    id: str
    document_id: str
    parent_id: str | None
    level: int  # 0 for the preamble before the first heading, 1..6 for headings
    title: str
    heading_path: tuple[str, ...]
    anchor: str  # custom `{ #id }` when given, else a GitHub-style slug
    order: int  # position of the section in the document, from 0
    text: str
    token_count: int
    content_hash: str  # sha256 of title + text: what decides "changed"
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A piece of one section small enough to embed; short sections are a single chunk."""

    id: str  # deterministic: section id plus chunk ordinal
    section_id: str
    document_id: str
    ordinal: int
    text: str
    token_count: int
    content_hash: str  # sha256 of the text: the embedding cache key (with the model name)


@dataclass(frozen=True)
class Document:
    """A parsed source file: its identity, checksum, and the sections and chunks it yields."""

    id: str  # derived from the normalised absolute path and the labels
    source_path: str  # the normalised absolute path
    title: str
    checksum: str  # sha256 of the raw bytes
    format: str  # "markdown" | "html" | "text"
    sections: list[Section] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    labels: Labels = NO_LABELS  # collection and version of the root it was ingested from
