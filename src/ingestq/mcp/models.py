"""The typed results of the MCP tools: each model is a tool's published output schema.

``structured_content`` carries exactly these; the text content is a short Markdown rendering of
the same result (:mod:`.render`), so a model is never billed for the JSON twice.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class _Out(BaseModel):
    model_config = {"extra": "forbid"}


class Labelled(_Out):
    """The collection and version the document was ingested under ("" when its root has none)."""

    collection: str = Field("", description="the collection label of the document's root")
    version: str = Field("", description="the version label it was ingested under")


class Freshness(_Out):
    """When the document was ingested, and the hash that changes when the text changes."""

    ingested_at: str = Field(description="UTC time of the ingest that wrote it (ISO 8601)")
    content_hash: str = Field(description="sha256 of the section's title and text")


class Hit(Freshness, Labelled):
    """One section that answers the query."""

    rank: int = Field(description="1 for the best hit, across pages")
    score: float = Field(description="higher is better: the fused score, or BM25's when search "
                                     "is lexical only")
    section_id: str = Field(description="pass to get_section or related")
    document_id: str = Field(description="pass to get_document")
    path: str = Field(description="the source file")
    title: str = Field(description="the document's title")
    heading_path: list[str] = Field(description="headings from the top of the document down")
    anchor: str
    url: str = Field(description="path#anchor")
    snippet: str = Field(description="the matching text, matched words in **bold**")


class Page(_Out):
    """How much of the full answer this reply holds, and how to get the rest."""

    truncated: bool = Field(description="true when something was left out to fit max_tokens")
    omitted: int = Field(0, description="items of the full answer not in this reply")
    next_cursor: str | None = Field(None, description="pass as cursor to continue; no repeats")
    tokens: int = Field(description="tokens of the text content, by the server's counter")


class SearchOutput(Page):
    """Search hits, best first."""

    query: str
    hits: list[Hit]


class SectionRef(_Out):
    """A section named by id, title and anchor, for widening what was read."""

    section_id: str
    title: str
    anchor: str
    level: int


class SectionOutput(Page, Freshness, Labelled):
    """A section's text (whole, or one part of a long one) with its neighbourhood."""

    section_id: str
    document_id: str
    path: str
    url: str
    title: str
    heading_path: list[str]
    level: int
    token_count: int = Field(description="tokens of the whole section as ingested")
    text: str = Field(description="the section's text, or this part of it")
    part: int = Field(0, description="which part of a long section this is, from 0")
    next_part: int | None = Field(None, description="pass as part to read on; null at the end")
    parent: SectionRef | None = None
    previous: SectionRef | None = None
    next: SectionRef | None = None
    children: list[SectionRef] = []


class OutlineEntry(_Out):
    """One heading of a document's outline."""

    section_id: str
    parent_id: str | None
    level: int
    title: str
    anchor: str
    token_count: int


class DocumentOutput(Page, Labelled):
    """A document's outline: the heading tree with section ids, without the text."""

    document_id: str
    path: str
    title: str
    ingested_at: str
    checksum: str = Field(description="sha256 of the file's bytes as ingested")
    section_count: int
    sections: list[OutlineEntry]


class DocumentSummary(Labelled):
    """One ingested document."""

    document_id: str
    path: str
    title: str
    section_count: int
    ingested_at: str
    checksum: str


class DocumentList(_Out):
    """A page of ingested documents, by path."""

    documents: list[DocumentSummary]
    next_cursor: str | None = Field(None, description="pass as cursor for the next page")


class LinkOut(_Out):
    """A link in the section's text."""

    href: str
    text: str
    target_document_id: str | None = Field(description="set when it names a local document")
    target_path: str | None = Field(description="set when that document is ingested")


class LinkIn(_Out):
    """A section of an ingested document that links to this section's document."""

    section_id: str
    document_id: str
    path: str
    title: str
    anchor: str


class RelatedOutput(_Out):
    """The graph around a section: its parent, siblings, links out and links in."""

    section_id: str
    document_id: str
    source: Literal["sqlite", "neo4j"] = Field(description="the store that answered")
    parent: SectionRef | None
    siblings: list[SectionRef]
    links_out: list[LinkOut]
    links_in: list[LinkIn]


class QueueStatus(_Out):
    """The queue at a glance, as `ingestctl status --json` reports it."""

    queue: str
    counts: dict[str, int] = Field(description="jobs per state")
    oldest_pending_age_seconds: float
    stale: int = Field(description="leases expired and not reaped yet")
    live_workers: int
    dead: int
    warnings: list[str]


class EnqueuedJob(_Out):
    """One file job."""

    id: str
    created: bool = Field(description="false when a live job for the file already existed")
    path: str


class IngestOutput(_Out):
    """What the ingest tool enqueued."""

    files: int
    missing: list[str]
    jobs: list[EnqueuedJob]
