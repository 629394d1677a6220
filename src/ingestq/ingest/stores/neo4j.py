"""The graph in Neo4j (the server stack): documents, sections, chunks and their relationships.

    (:Document)-[:HAS_SECTION]->(:Section)-[:HAS_CHUNK]->(:Chunk)
    (:Section)-[:PARENT_OF]->(:Section)   (:Section)-[:NEXT]->(:Section)
    (:Section)-[:LINKS_TO]->(:Document)

One write transaction per document, so a reader never sees half a document. Rows go in batches
through parameterised ``UNWIND $rows AS r MERGE ...``; sections and chunks that disappeared are
``DETACH DELETE``d. Uniqueness constraints are created once per process and database.

No Neo4j server can run on the development machines: the tests of this module run only where
``NEO4J_URI`` is set.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from neo4j import Driver, GraphDatabase, ManagedTransaction

from ingestq.errors import TransientError
from ingestq.ingest.embedders.base import Vectors
from ingestq.ingest.parsing.model import Document
from ingestq.ingest.settings import StoreSettings
from ingestq.ingest.stores.base import SKIPPED_UNCHANGED, DocumentManifest, WriteResult
from ingestq.ingest.stores.sqlite import document_edges

_SCHEMA = (
    "CREATE CONSTRAINT ingestq_document_id IF NOT EXISTS FOR (n:Document) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT ingestq_section_id IF NOT EXISTS FOR (n:Section) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT ingestq_chunk_id IF NOT EXISTS FOR (n:Chunk) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX ingestq_section_document IF NOT EXISTS FOR (n:Section) ON (n.document_id)",
    "CREATE INDEX ingestq_chunk_document IF NOT EXISTS FOR (n:Chunk) ON (n.document_id)",
    "CREATE INDEX ingestq_document_labels IF NOT EXISTS FOR (n:Document) "
    "ON (n.collection, n.version)",
)
# Relationship types cannot be parameters in Cypher: one statement per kind.
_EDGE_QUERIES = {
    "PARENT_OF": "UNWIND $rows AS r MATCH (a:Section {id: r.src}) MATCH (b:Section {id: r.dst}) "
    "MERGE (a)-[:PARENT_OF]->(b)",
    "NEXT": "UNWIND $rows AS r MATCH (a:Section {id: r.src}) MATCH (b:Section {id: r.dst}) "
    "MERGE (a)-[:NEXT]->(b)",
    "LINKS_TO": "UNWIND $rows AS r MATCH (a:Section {id: r.src}) MERGE (b:Document {id: r.dst}) "
    "MERGE (a)-[:LINKS_TO]->(b)",
}
_SECTION_WRITE = (
    "UNWIND $rows AS r MERGE (s:Section {id: r.id}) SET s += r "
    "WITH s MATCH (d:Document {id: $doc}) MERGE (d)-[:HAS_SECTION]->(s)"
)
_CHUNK_WRITE = (
    "UNWIND $rows AS r MERGE (c:Chunk {id: r.id}) SET c += r "
    "WITH c, r MATCH (s:Section {id: r.section_id}) MERGE (s)-[:HAS_CHUNK]->(c)"
)
_schema_done: set[tuple[str, str | None]] = set()
_schema_lock = threading.Lock()


def _section_props(doc: Document) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "document_id": s.document_id,
            "parent_id": s.parent_id,
            "level": s.level,
            "title": s.title,
            "heading_path": list(s.heading_path),
            "anchor": s.anchor,
            "ord": s.order,
            "text": s.text,
            "token_count": s.token_count,
            "content_hash": s.content_hash,
            "links": json.dumps([[k.href, k.text, k.target_document_id] for k in s.links]),
        }
        for s in doc.sections
    ]


def _chunk_props(doc: Document, model: str) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "section_id": c.section_id,
            "document_id": c.document_id,
            "ordinal": c.ordinal,
            "token_count": c.token_count,
            "content_hash": c.content_hash,
            "embedding_model": model,
        }
        for c in doc.chunks
    ]


def _without_nulls(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if value is not None}


class Neo4jStore:
    """Documents, sections and chunks as a graph in Neo4j."""

    name = "neo4j"

    def __init__(
        self, driver: Driver, database: str | None = None, batch_size: int = 256, uri: str = ""
    ) -> None:
        """Use ``driver``; creates the constraints on first use in this process."""
        self.driver = driver
        self.database = database
        self.batch_size = batch_size
        with _schema_lock:
            if (uri, database) not in _schema_done:
                with self.driver.session(database=database) as session:
                    for statement in _SCHEMA:
                        session.run(statement).consume()
                _schema_done.add((uri, database))

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> Neo4jStore:
        """Connect to ``neo4j_uri`` with the password read from ``neo4j_password_env``."""
        uri = settings.neo4j_uri or ""
        password = os.environ.get(settings.neo4j_password_env, "")
        driver = GraphDatabase.driver(uri, auth=(settings.neo4j_user, password))
        return cls(driver, settings.neo4j_database, settings.batch_size, uri)

    def write_document(
        self, doc: Document, vectors: Vectors, embedding_model: str, *, force: bool = False
    ) -> WriteResult:
        """Make the graph hold exactly ``doc`` in one write transaction."""
        try:
            with self.driver.session(database=self.database) as session:
                return session.execute_write(self._write, doc, embedding_model, force)
        except TransientError:
            raise
        except Exception as exc:  # the driver raises service, session and transport errors
            raise TransientError(f"Neo4j write of {doc.source_path} failed: {exc}") from exc

    def _write(self, tx: ManagedTransaction, doc: Document, model: str, force: bool) -> WriteResult:
        current = tx.run(
            "MATCH (d:Document {id: $id}) RETURN d.checksum AS checksum, d.embedding_model AS m",
            id=doc.id,
        ).single()
        if not force and current and (current["checksum"], current["m"]) == (doc.checksum, model):
            return WriteResult(self.name, doc.id, skipped_reason=SKIPPED_UNCHANGED)
        old = {
            r["id"]: r["props"]
            for r in tx.run(
                "MATCH (s:Section {document_id: $id}) RETURN s.id AS id, properties(s) AS props",
                id=doc.id,
            )
        }
        tx.run(
            "MERGE (d:Document {id: $id}) SET d.source_path = $path, d.title = $title, "
            "d.checksum = $checksum, d.format = $format, d.embedding_model = $model, "
            "d.section_count = $sections, d.chunk_count = $chunks, "
            "d.collection = $collection, d.version = $version",
            id=doc.id,
            collection=doc.labels.collection,
            version=doc.labels.version,
            path=doc.source_path,
            title=doc.title,
            checksum=doc.checksum,
            format=doc.format,
            model=model,
            sections=len(doc.sections),
            chunks=len(doc.chunks),
        ).consume()
        sections = _section_props(doc)
        # Neo4j stores no nulls (SET += null removes the key): compare without them.
        changed = [row for row in sections if old.get(row["id"]) != _without_nulls(row)]
        self._batched(tx, _SECTION_WRITE, changed, doc=doc.id)
        keep = [s.id for s in doc.sections]
        gone = tx.run(
            "MATCH (s:Section {document_id: $doc}) WHERE NOT s.id IN $keep "
            "DETACH DELETE s RETURN count(*) AS n",
            doc=doc.id,
            keep=keep,
        ).single()
        written = self._write_chunks(tx, doc, model)
        self._write_edges(tx, doc)
        added = sum(1 for row in changed if row["id"] not in old)
        return WriteResult(
            self.name,
            doc.id,
            None,
            added,
            len(changed) - added,
            int(gone["n"]) if gone else 0,
            len(sections) - len(changed),
            written[0],
            written[1],
        )

    def _write_chunks(self, tx: ManagedTransaction, doc: Document, model: str) -> tuple[int, int]:
        old = {
            r["id"]: r["props"]
            for r in tx.run(
                "MATCH (c:Chunk {document_id: $id}) RETURN c.id AS id, properties(c) AS props",
                id=doc.id,
            )
        }
        changed = [row for row in _chunk_props(doc, model) if old.get(row["id"]) != row]
        self._batched(tx, _CHUNK_WRITE, changed)
        gone = tx.run(
            "MATCH (c:Chunk {document_id: $doc}) WHERE NOT c.id IN $keep "
            "DETACH DELETE c RETURN count(*) AS n",
            doc=doc.id,
            keep=[c.id for c in doc.chunks],
        ).single()
        return len(changed), int(gone["n"]) if gone else 0

    def _write_edges(self, tx: ManagedTransaction, doc: Document) -> None:
        # The section edges are few: replacing them is simpler than diffing and ends the same.
        tx.run(
            "MATCH (s:Section {document_id: $doc})-[r:PARENT_OF|NEXT|LINKS_TO]->() DELETE r",
            doc=doc.id,
        ).consume()
        for kind, query in _EDGE_QUERIES.items():
            rows = [{"src": a, "dst": b} for a, k, b in document_edges(doc) if k == kind]
            self._batched(tx, query, rows)

    def _batched(
        self, tx: ManagedTransaction, query: str, rows: list[dict[str, Any]], **params: Any
    ) -> None:
        for start in range(0, len(rows), self.batch_size):
            tx.run(query, rows=rows[start : start + self.batch_size], **params).consume()

    def _run(self, query: str, **params: Any) -> list[dict[str, Any]]:
        try:
            with self.driver.session(database=self.database) as session:
                return [record.data() for record in session.run(query, **params)]
        except Exception as exc:  # the driver raises service, session and transport errors
            raise TransientError(f"Neo4j query failed: {exc}") from exc

    def delete_document(self, document_id: str) -> bool:
        """DETACH DELETE the document with its sections and chunks."""
        rows = self._run(
            # Collected one label at a time: chained OPTIONAL MATCHes would multiply rows.
            "OPTIONAL MATCH (d:Document {id: $id}) WITH collect(d) AS nodes "
            "OPTIONAL MATCH (s:Section {document_id: $id}) WITH nodes + collect(s) AS nodes "
            "OPTIONAL MATCH (c:Chunk {document_id: $id}) WITH nodes + collect(c) AS nodes "
            "FOREACH (n IN nodes | DETACH DELETE n) RETURN size(nodes) AS n",
            id=document_id,
        )
        return bool(rows and rows[0]["n"])

    def document_ids(self) -> set[str]:
        """Return ids of ingested documents (not placeholders created by links)."""
        rows = self._run("MATCH (d:Document) WHERE d.checksum IS NOT NULL RETURN d.id AS id")
        return {str(r["id"]) for r in rows}

    def manifest(self, document_id: str) -> DocumentManifest | None:
        """Return the document's checksum and its sections' and chunks' hashes."""
        rows = self._run(
            "OPTIONAL MATCH (d:Document {id: $id}) "
            "OPTIONAL MATCH (s:Section {document_id: $id}) "
            "WITH d, collect([s.id, s.content_hash]) AS sections "
            "OPTIONAL MATCH (c:Chunk {document_id: $id}) "
            "RETURN d.source_path AS path, d.checksum AS checksum, sections, "
            "collect([c.id, c.content_hash]) AS chunks",
            id=document_id,
        )
        row = rows[0] if rows else {}
        sections = {str(i): str(h) for i, h in row.get("sections", []) if i is not None}
        chunks = {str(i): str(h) for i, h in row.get("chunks", []) if i is not None}
        if row.get("checksum") is None and not sections and not chunks:
            return None
        return DocumentManifest(
            document_id, str(row.get("path") or ""), row.get("checksum"), sections, chunks
        )

    def context(self, section_id: str) -> dict[str, str | None]:
        """Return the parent heading and the previous and next sections' titles and anchors."""
        rows = self._run(
            "MATCH (s:Section {id: $id}) OPTIONAL MATCH (p:Section)-[:PARENT_OF]->(s) "
            "OPTIONAL MATCH (b:Section)-[:NEXT]->(s) OPTIONAL MATCH (s)-[:NEXT]->(n:Section) "
            "RETURN p.title AS parent_title, b.title AS previous_title, "
            "b.anchor AS previous_anchor, n.title AS next_title, n.anchor AS next_anchor",
            id=section_id,
        )
        return dict(rows[0]) if rows else {}

    def neighbourhood(self, section_id: str) -> dict[str, Any]:
        """Parent, siblings, links out and links in of a section (for the MCP ``related`` tool).

        Keys: ``parent`` and ``siblings`` (lists of {id, title, anchor, level}), ``links_out``
        ({href, text, target_id, target_path}) and ``links_in`` ({section_id, document_id, path,
        title, anchor}) of sections whose LINKS_TO points at this section's document.
        """
        rows = self._run(
            "MATCH (s:Section {id: $id}) "
            "OPTIONAL MATCH (p:Section)-[:PARENT_OF]->(s) "
            "WITH s, collect(p {.id, .title, .anchor, .level}) AS parent "
            # Siblings share the parent; top-level sections share the document and no parent.
            "OPTIONAL MATCH (sib:Section {document_id: s.document_id}) WHERE sib.id <> s.id "
            "AND coalesce(sib.parent_id, '') = coalesce(s.parent_id, '') "
            "WITH s, parent, collect(sib {.id, .title, .anchor, .level, .ord}) AS siblings "
            "OPTIONAL MATCH (src:Section)-[:LINKS_TO]->(:Document {id: s.document_id}) "
            "OPTIONAL MATCH (sd:Document {id: src.document_id}) "
            "RETURN parent, siblings, s.links AS links, collect(CASE WHEN src IS NULL THEN null "
            "ELSE {section_id: src.id, document_id: src.document_id, path: sd.source_path, "
            "title: src.title, anchor: src.anchor} END)[..200] AS links_in",
            id=section_id,
        )
        if not rows:
            return {}
        row = rows[0]
        links = json.loads(row.get("links") or "[]")
        targets = [t for _, _, t in links if t]
        paths = {r["id"]: r["path"] for r in self._run(
            "MATCH (d:Document) WHERE d.id IN $ids AND d.checksum IS NOT NULL "
            "RETURN d.id AS id, d.source_path AS path", ids=targets)} if targets else {}
        siblings = sorted(row.get("siblings") or [], key=lambda r: r.get("ord") or 0)
        return {
            "parent": row.get("parent") or [],
            "siblings": siblings,
            "links_out": [{"href": h, "text": t, "target_id": d, "target_path": paths.get(d)}
                          for h, t, d in links],
            "links_in": row.get("links_in") or [],
        }

    def stats(self) -> dict[str, int]:
        """Return node counts by label."""
        rows = self._run(
            "MATCH (n) WHERE n:Document OR n:Section OR n:Chunk "
            "RETURN labels(n)[0] AS label, count(*) AS n"
        )
        return {str(r["label"]).lower() + "s": int(r["n"]) for r in rows}

    def close(self) -> None:
        """Close the driver."""
        self.driver.close()
