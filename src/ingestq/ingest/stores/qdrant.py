"""Vectors in Qdrant (the server stack): one point per chunk, payload for filters and display.

Point ids are uuid5 of the chunk id, so a re-run upserts the same points. Writes are diffs against
what the collection holds for the document: points whose payload is unchanged are not re-sent,
and points of chunks that disappeared are deleted by a filter on ``chunk_id``. Qdrant keeps no
checksum, so the SQLite manifest decides "unchanged"; ``force`` is implied on every call.

Local mode (``qdrant_path``) locks its folder to one process: for tests, not for shared workers.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

from qdrant_client import QdrantClient, models

from ingestq.errors import ConfigError, TransientError
from ingestq.ingest.embedders.base import Vectors
from ingestq.ingest.parsing.identity import Labels
from ingestq.ingest.parsing.model import Document
from ingestq.ingest.settings import StoreSettings
from ingestq.ingest.stores.base import DocumentManifest, Scope, WriteResult

# Fixed namespace: point ids must be the same in every process and every release.
POINT_NAMESPACE = uuid.UUID("6f1c2a4e-3b7d-5e10-9a8b-1c2d3e4f5a6b")
_KEYWORD_FIELDS = ("document_id", "chunk_id", "section_id", "collection", "version")
_SCROLL_PAGE = 512


def point_id(chunk_id: str) -> str:
    """Return the deterministic Qdrant point id of a chunk."""
    return str(uuid.uuid5(POINT_NAMESPACE, chunk_id))


def _field_is(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _label_is(key: str, value: str) -> models.Filter | models.FieldCondition:
    if value:
        return _field_is(key, value)
    # Points written before labels have no such key: they are the unlabelled documents.
    return models.Filter(should=[_field_is(key, ""), models.IsEmptyCondition(
        is_empty=models.PayloadField(key=key))])


def scope_filter(scope: Scope) -> models.Filter | None:
    """A payload filter for the points of ``scope``'s (collection, version) pairs."""
    if scope is None:
        return None

    def pair(labels: Labels) -> models.Filter:
        return models.Filter(must=[_label_is("collection", labels.collection),
                                   _label_is("version", labels.version)])

    return models.Filter(should=[pair(labels) for labels in sorted(
        scope, key=lambda lab: (lab.collection, lab.version))])


class QdrantStore:
    """Chunk vectors with their payload in one Qdrant collection."""

    name = "qdrant"

    def __init__(
        self, client: QdrantClient, collection: str, dim: int, batch_size: int = 256
    ) -> None:
        """Use ``collection`` of ``client``, creating it (cosine, ``dim``) when missing."""
        self.client = client
        self.collection = collection
        self.dim = dim
        self.batch_size = batch_size
        self._lock = threading.Lock()  # local mode is not safe for concurrent threads
        self._ensure_collection()

    @classmethod
    def from_settings(cls, settings: StoreSettings, dim: int) -> QdrantStore:
        """Connect to ``qdrant_url``, or open ``qdrant_path`` in local mode."""
        if settings.qdrant_url:
            client = QdrantClient(url=settings.qdrant_url)
        elif settings.qdrant_path == ":memory:":
            client = QdrantClient(location=":memory:")
        elif settings.qdrant_path:
            client = QdrantClient(path=settings.qdrant_path)
        else:
            raise ConfigError(
                "ingest.pipeline.store.kind is 'server' but neither store.qdrant_url nor "
                "store.qdrant_path is set"
            )
        return cls(client, settings.qdrant_collection, dim, settings.batch_size)

    def _ensure_collection(self) -> None:
        if self.client.collection_exists(self.collection):
            info = self.client.get_collection(self.collection)
            size = info.config.params.vectors
            actual = size.size if isinstance(size, models.VectorParams) else None
            if actual != self.dim:
                raise ConfigError(
                    f"Qdrant collection {self.collection!r} holds vectors of size {actual}, "
                    f"the embedder gives {self.dim}: use another store.qdrant_collection"
                )
            # A collection made before labels lacks their indexes (search filters on them).
            self._index([k for k in _KEYWORD_FIELDS if k not in (info.payload_schema or {})])
            return
        self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=self.dim, distance=models.Distance.COSINE),
        )
        self._index(list(_KEYWORD_FIELDS))

    def _index(self, keys: list[str]) -> None:
        for key in keys:
            # Filters on these run on every write, delete and labelled search: index them. Local
            # mode ignores indexes and warns so; that warning says nothing an operator could
            # act on.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Payload indexes have no effect", UserWarning)
                self.client.create_payload_index(
                    self.collection, key, field_schema=models.PayloadSchemaType.KEYWORD
                )

    def write_document(
        self, doc: Document, vectors: Vectors, embedding_model: str, *, force: bool = False
    ) -> WriteResult:
        """Upsert the points whose payload changed; delete points of vanished chunks."""
        with self._lock:
            stored = {str(p["chunk_id"]): p for p in self._payloads(doc.id)}
            sections = {s.id: s for s in doc.sections}
            points = []
            for index, chunk in enumerate(doc.chunks):
                section = sections[chunk.section_id]
                payload: dict[str, Any] = {
                    "document_id": doc.id,
                    "collection": doc.labels.collection,
                    "version": doc.labels.version,
                    "source_path": doc.source_path,
                    "title": doc.title,
                    "heading_path": list(section.heading_path),
                    "anchor": section.anchor,
                    "section_id": section.id,
                    "section_hash": section.content_hash,
                    "chunk_id": chunk.id,
                    "content_hash": chunk.content_hash,
                    "embedding_model": embedding_model,
                    "text": chunk.text,
                }
                if stored.get(chunk.id) != payload:
                    vector = vectors[index].astype(float).tolist()
                    points.append(
                        models.PointStruct(id=point_id(chunk.id), vector=vector, payload=payload)
                    )
            gone = sorted(set(stored) - {c.id for c in doc.chunks})
            self._upsert(points)
            if gone:
                self._delete(
                    models.Filter(
                        must=[
                            _field_is("document_id", doc.id),
                            models.FieldCondition(key="chunk_id", match=models.MatchAny(any=gone)),
                        ]
                    )
                )
        return WriteResult(self.name, doc.id, chunks_written=len(points), chunks_deleted=len(gone))

    def _upsert(self, points: list[models.PointStruct]) -> None:
        for start in range(0, len(points), self.batch_size):
            try:
                self.client.upsert(
                    self.collection, points=points[start : start + self.batch_size], wait=True
                )
            except Exception as exc:  # the client raises several transport types
                raise TransientError(
                    f"Qdrant upsert into {self.collection!r} failed: {exc}"
                ) from exc

    def _delete(self, selector: models.Filter) -> None:
        try:
            self.client.delete(
                self.collection, points_selector=models.FilterSelector(filter=selector), wait=True
            )
        except Exception as exc:  # the client raises several transport types
            raise TransientError(f"Qdrant delete in {self.collection!r} failed: {exc}") from exc

    def _payloads(self, document_id: str | None = None) -> Iterator[dict[str, Any]]:
        query = models.Filter(must=[_field_is("document_id", document_id)]) if document_id else None
        offset: Any = None
        while True:
            records, offset = self.client.scroll(
                self.collection,
                scroll_filter=query,
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=True,
                with_vectors=False,
            )
            for record in records:
                yield dict(record.payload or {})
            if offset is None:
                return

    def delete_document(self, document_id: str) -> bool:
        """Delete every point of the document."""
        with self._lock:
            found = next(self._payloads(document_id), None) is not None
            self._delete(models.Filter(must=[_field_is("document_id", document_id)]))
        return found

    def document_ids(self) -> set[str]:
        """Return the ids of every document with at least one point."""
        with self._lock:
            return {str(p["document_id"]) for p in self._payloads()}

    def manifest(self, document_id: str) -> DocumentManifest | None:
        """Return the chunk ids and hashes held for the document (sections are not kept)."""
        with self._lock:
            payloads = list(self._payloads(document_id))
        if not payloads:
            return None
        chunks = {str(p["chunk_id"]): str(p["content_hash"]) for p in payloads}
        return DocumentManifest(document_id, str(payloads[0]["source_path"]), None, None, chunks)

    def search(self, vector: Vectors, k: int, scope: Scope = None
               ) -> list[tuple[str, float, dict[str, Any]]]:
        """Return (chunk id, cosine score, payload) of the ``k`` nearest points in ``scope``
        (filtered inside Qdrant, so ``k`` stays exact)."""
        with self._lock:
            response = self.client.query_points(
                self.collection, query=vector.astype(float).tolist(), limit=k, with_payload=True,
                query_filter=scope_filter(scope),
            )
        return [
            (str((p.payload or {})["chunk_id"]), float(p.score), dict(p.payload or {}))
            for p in response.points
        ]

    def stats(self) -> dict[str, int]:
        """Return the number of points."""
        with self._lock:
            return {"points": int(self.client.count(self.collection, exact=True).count)}

    def close(self) -> None:
        """Close the client (releases the local-mode folder lock)."""
        with self._lock:
            self.client.close()
