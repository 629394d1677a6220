"""The store protocol every backend implements, and the records stores exchange with callers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ingestq.ingest.embedders.base import Vectors
from ingestq.ingest.parsing.identity import Labels
from ingestq.ingest.parsing.model import Document

SKIPPED_UNCHANGED = "unchanged"

# Which (collection, version) pairs a query reads; None: all of them, no filter at all.
Scope = frozenset[Labels] | None


@dataclass(frozen=True)
class WriteResult:
    """What one ``write_document`` call changed in one store."""

    store: str
    document_id: str
    skipped_reason: str | None = None  # "unchanged": same checksum and model, nothing written
    sections_added: int = 0
    sections_updated: int = 0
    sections_deleted: int = 0
    sections_unchanged: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0

    @property
    def changed(self) -> bool:
        """True when any row was written or deleted."""
        return bool(
            self.sections_added
            + self.sections_updated
            + self.sections_deleted
            + self.chunks_written
            + self.chunks_deleted
        )


@dataclass(frozen=True)
class DocumentManifest:
    """A document as one store holds it: ids with content hashes, for drift detection."""

    document_id: str
    source_path: str
    checksum: str | None  # None where the store does not keep it
    # section id -> content hash; None where the store keeps no sections (a vector store).
    sections: Mapping[str, str] | None
    chunks: Mapping[str, str] = field(default_factory=dict)  # chunk id -> content hash


def manifest_of(doc: Document) -> DocumentManifest:
    """Return the manifest a parsed document should have in every store."""
    return DocumentManifest(
        document_id=doc.id,
        source_path=doc.source_path,
        checksum=doc.checksum,
        sections={s.id: s.content_hash for s in doc.sections},
        chunks={c.id: c.content_hash for c in doc.chunks},
    )


@runtime_checkable
class Store(Protocol):
    """A place documents are written to; every method is idempotent."""

    name: str

    def write_document(
        self, doc: Document, vectors: Vectors, embedding_model: str, *, force: bool = False
    ) -> WriteResult:
        """Make the store hold exactly ``doc``; ``vectors[i]`` belongs to ``doc.chunks[i]``.

        Unless ``force``, a document stored with the same checksum and model is skipped.
        """
        ...

    def delete_document(self, document_id: str) -> bool:
        """Remove the document and everything under it; False when it was not there."""
        ...

    def document_ids(self) -> set[str]:
        """Return the ids of every document the store holds."""
        ...

    def manifest(self, document_id: str) -> DocumentManifest | None:
        """Return what the store holds of one document, or None when it holds nothing."""
        ...

    def stats(self) -> dict[str, int]:
        """Return row or point counts by kind."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...
