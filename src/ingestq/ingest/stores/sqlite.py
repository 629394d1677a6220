"""The embedded default store: documents, sections, edges, FTS5 and vectors in one SQLite file.

Every change to one document happens in one ``BEGIN IMMEDIATE`` transaction, so a crash leaves
either the old version or the new one, never a mix. Writes are diffs: rows whose content is
unchanged are not touched, rows of sections and chunks that disappeared are deleted together with
their FTS rows, vectors and edges. See :mod:`ingestq.ingest.sqlite_db` for the multi-process rules.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import numpy as np

from ingestq.ingest.embedders.base import Vectors
from ingestq.ingest.parsing.identity import Labels
from ingestq.ingest.parsing.model import Document, Section
from ingestq.ingest.stores.base import SKIPPED_UNCHANGED, DocumentManifest, Scope, WriteResult
from ingestq.ingest.stores.sqlite_db import bump_version, connect, data_version, write_transaction

HEADING_SEPARATOR = " > "
_SECTION_COLUMNS = (
    "id, document_id, parent_id, level, title, heading_path, anchor, ord, text, token_count, "
    "content_hash, links"
)
_CHUNK_COLUMNS = (
    "section_id, document_id, ordinal, text, token_count, content_hash, embedding_model"
)

Row = tuple[object, ...]
P = ParamSpec("P")
R = TypeVar("R")


def _locked(
    method: Callable[Concatenate[SQLiteStore, P], R],
) -> Callable[Concatenate[SQLiteStore, P], R]:
    # A worker's handler threads share one pipeline: a transaction begun by one thread must not
    # take in statements of another on the same connection.
    @functools.wraps(method)
    def wrapper(store: SQLiteStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with store.lock:
            return method(store, *args, **kwargs)

    return wrapper


# Highlight marks of FTS5 snippets: Markdown bold reads well in a terminal and in a page.
HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE = "**", "**"
_SNIPPET_TOKENS = 16


@dataclass(frozen=True)
class ChunkHit:
    """One chunk found by a lexical query."""

    chunk_id: str
    score: float  # bm25 as FTS5 gives it: lower (more negative) is better


@dataclass(frozen=True)
class ChunkInfo:
    """Where a chunk sits: its section, document and text, for presenting a search hit."""

    chunk_id: str
    section_id: str
    document_id: str
    source_path: str
    title: str
    heading_path: tuple[str, ...]
    anchor: str
    text: str
    collection: str = ""
    version: str = ""


def scope_sql(scope: Scope, alias: str = "d") -> tuple[str, list[str]]:
    """An SQL condition on documents ``alias`` limiting it to ``scope`` (and its parameters).

    One equality pair per label set, so SQLite answers it from ``documents_by_labels``.
    """
    if scope is None:
        return "1 = 1", []
    if not scope:
        return "0 = 1", []
    pairs = sorted((labels.collection, labels.version) for labels in scope)
    condition = " OR ".join(f"({alias}.collection = ? AND {alias}.version = ?)" for _ in pairs)
    return f"({condition})", [value for pair in pairs for value in pair]


def _section_row(section: Section) -> Row:
    links = [[link.href, link.text, link.target_document_id] for link in section.links]
    return (
        section.id,
        section.document_id,
        section.parent_id,
        section.level,
        section.title,
        json.dumps(list(section.heading_path), ensure_ascii=False),
        section.anchor,
        section.order,
        section.text,
        section.token_count,
        section.content_hash,
        json.dumps(links, ensure_ascii=False),
    )


def document_edges(doc: Document) -> set[tuple[str, str, str]]:
    """Return the graph edges of a document as (source id, kind, destination id)."""
    edges = {(doc.id, "HAS_SECTION", s.id) for s in doc.sections}
    edges |= {(s.parent_id, "PARENT_OF", s.id) for s in doc.sections if s.parent_id}
    ordered = sorted(doc.sections, key=lambda s: s.order)
    edges |= {(a.id, "NEXT", b.id) for a, b in pairwise(ordered)}
    for section in doc.sections:
        edges |= {
            (section.id, "LINKS_TO", link.target_document_id)
            for link in section.links
            if link.target_document_id
        }
    return edges


class SQLiteStore:
    """Documents, sections, chunks, edges, FTS5 rows and vectors in one shared SQLite file."""

    name = "sqlite"

    def __init__(self, path: Path, *, store_vectors: bool = True) -> None:
        """Open the database; ``store_vectors=False`` when a vector server holds the vectors."""
        self.path = path
        self.store_vectors = store_vectors
        self.conn = connect(path)
        self.lock = threading.RLock()

    @_locked
    def stored_checksum(self, document_id: str) -> tuple[str, str] | None:
        """Return (checksum, embedding model) of the stored document, or None."""
        row = self.conn.execute(
            "SELECT checksum, embedding_model FROM documents WHERE id = ?", (document_id,)
        ).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    @_locked
    def write_document(
        self, doc: Document, vectors: Vectors, embedding_model: str, *, force: bool = False
    ) -> WriteResult:
        """Make the database hold exactly ``doc``, rewriting only rows that changed."""
        _check_vectors(doc, vectors)
        with write_transaction(self.conn) as conn:
            current = self.stored_checksum(doc.id)
            if not force and current == (doc.checksum, embedding_model):
                return WriteResult(self.name, doc.id, skipped_reason=SKIPPED_UNCHANGED)
            added, updated, deleted, unchanged = self._sync_sections(conn, doc)
            written, dropped = self._sync_chunks(conn, doc, vectors, embedding_model)
            self._sync_edges(conn, doc)
            self._upsert_document(conn, doc, embedding_model)
            conn.execute("INSERT OR IGNORE INTO labels (collection, version, first_ingested_at) "
                         "VALUES (?, ?, ?)", (doc.labels.collection, doc.labels.version,
                                              time.time()))
            if written or dropped:
                bump_version(conn)
        return WriteResult(
            self.name, doc.id, None, added, updated, deleted, unchanged, written, dropped
        )

    def _sync_sections(self, conn: sqlite3.Connection, doc: Document) -> tuple[int, int, int, int]:
        existing = {
            row[0]: tuple(row)
            for row in conn.execute(
                f"SELECT {_SECTION_COLUMNS} FROM sections WHERE document_id = ?", (doc.id,)
            )
        }
        wanted = {s.id: _section_row(s) for s in doc.sections}
        changed = [row for sid, row in wanted.items() if existing.get(sid) != row]
        added = sum(1 for row in changed if row[0] not in existing)
        gone = [(sid,) for sid in existing if sid not in wanted]
        conn.executemany(
            f"INSERT OR REPLACE INTO sections ({_SECTION_COLUMNS}) VALUES ({_marks(12)})", changed
        )
        conn.executemany("DELETE FROM sections WHERE id = ?", gone)
        unchanged = len(wanted) - len(changed)
        return added, len(changed) - added, len(gone), unchanged

    def _sync_chunks(
        self, conn: sqlite3.Connection, doc: Document, vectors: Vectors, model: str
    ) -> tuple[int, int]:
        existing: dict[str, tuple[int, Row, bool]] = {
            row[0]: (int(row[1]), tuple(row[2:9]), row[9] is not None)
            for row in conn.execute(
                f"SELECT id, rid, {_CHUNK_COLUMNS}, vector FROM chunks WHERE document_id = ?",
                (doc.id,),
            )
        }
        sections = {s.id: s for s in doc.sections}
        written = 0
        for index, chunk in enumerate(doc.chunks):
            row: Row = (
                chunk.section_id,
                chunk.document_id,
                chunk.ordinal,
                chunk.text,
                chunk.token_count,
                chunk.content_hash,
                model,
            )
            old = existing.get(chunk.id)
            if old is not None and old[1] == row and old[2] == self.store_vectors:
                continue
            blob = vectors[index].astype(np.float32).tobytes() if self.store_vectors else None
            if old is None:
                cursor = conn.execute(
                    f"INSERT INTO chunks (id, {_CHUNK_COLUMNS}, vector) VALUES ({_marks(9)})",
                    (chunk.id, *row, blob),
                )
                rid = int(cursor.lastrowid or 0)
            else:
                rid = old[0]
                conn.execute("DELETE FROM chunks_fts WHERE rowid = ?", (rid,))
                conn.execute(
                    "UPDATE chunks SET section_id = ?, document_id = ?, ordinal = ?, text = ?, "
                    "token_count = ?, content_hash = ?, embedding_model = ?, vector = ? "
                    "WHERE rid = ?",
                    (*row, blob, rid),
                )
            section = sections.get(chunk.section_id)
            heading = HEADING_SEPARATOR.join(section.heading_path) if section else ""
            conn.execute(
                "INSERT INTO chunks_fts (rowid, title, heading_path, text) VALUES (?, ?, ?, ?)",
                (rid, doc.title, heading, chunk.text),
            )
            written += 1
        wanted = {c.id for c in doc.chunks}
        gone = [(rid,) for cid, (rid, _, _) in existing.items() if cid not in wanted]
        conn.executemany("DELETE FROM chunks_fts WHERE rowid = ?", gone)
        conn.executemany("DELETE FROM chunks WHERE rid = ?", gone)
        return written, len(gone)

    def _sync_edges(self, conn: sqlite3.Connection, doc: Document) -> None:
        existing = {
            (str(a), str(k), str(b))
            for a, k, b in conn.execute(
                "SELECT src, kind, dst FROM edges WHERE document_id = ?", (doc.id,)
            )
        }
        wanted = document_edges(doc)
        conn.executemany(
            "INSERT OR REPLACE INTO edges (src, kind, dst, document_id) VALUES (?, ?, ?, ?)",
            [(*edge, doc.id) for edge in wanted - existing],
        )
        conn.executemany(
            "DELETE FROM edges WHERE src = ? AND kind = ? AND dst = ?", list(existing - wanted)
        )

    def _upsert_document(self, conn: sqlite3.Connection, doc: Document, model: str) -> None:
        row = (
            doc.source_path,
            doc.title,
            doc.checksum,
            doc.format,
            len(doc.sections),
            len(doc.chunks),
            model,
            json.dumps(doc.warnings, ensure_ascii=False),
            doc.labels.collection,
            doc.labels.version,
        )
        old = conn.execute(
            "SELECT source_path, title, checksum, format, section_count, chunk_count, "
            "embedding_model, warnings, collection, version FROM documents WHERE id = ?",
            (doc.id,),
        ).fetchone()
        if old is not None and tuple(old) == row:
            return  # a forced rewrite of identical content leaves even ingested_at alone
        conn.execute(
            "INSERT OR REPLACE INTO documents (id, source_path, title, checksum, format, "
            "section_count, chunk_count, embedding_model, warnings, collection, version, "
            f"ingested_at) VALUES ({_marks(12)})",
            (doc.id, *row, time.time()),
        )

    @_locked
    def delete_document(self, document_id: str) -> bool:
        """Delete the document with its sections, chunks, FTS rows, vectors and edges."""
        with write_transaction(self.conn) as conn:
            found = conn.execute("DELETE FROM documents WHERE id = ?", (document_id,)).rowcount
            conn.execute(
                "DELETE FROM chunks_fts WHERE rowid IN "
                "(SELECT rid FROM chunks WHERE document_id = ?)",
                (document_id,),
            )
            removed = conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
            conn.execute("DELETE FROM sections WHERE document_id = ?", (document_id,))
            conn.execute("DELETE FROM edges WHERE document_id = ?", (document_id,))
            if removed.rowcount:
                bump_version(conn)
        return bool(found or removed.rowcount)

    @_locked
    def document_ids(self) -> set[str]:
        """Return the ids of every stored document."""
        return {str(r[0]) for r in self.conn.execute("SELECT id FROM documents")}

    @_locked
    def orphan_ids(self) -> set[str]:
        """Ids of documents whose record is gone while their sections or chunks remain (they
        are invisible to search and to every check that starts from the documents table)."""
        rows = self.conn.execute(
            "SELECT document_id FROM sections UNION SELECT document_id FROM chunks "
            "EXCEPT SELECT id FROM documents")
        return {str(r[0]) for r in rows}

    @_locked
    def source_paths(self) -> dict[str, str]:
        """Return document id -> source path of every stored document."""
        rows = self.conn.execute("SELECT id, source_path FROM documents")
        return {str(i): str(p) for i, p in rows}

    @_locked
    def section_anchors(self) -> dict[str, frozenset[str]]:
        """Return source path -> anchors of its sections, for every stored document."""
        anchors: dict[str, set[str]] = {path: set() for path in self.source_paths().values()}
        rows = self.conn.execute(
            "SELECT d.source_path, s.anchor FROM sections s "
            "JOIN documents d ON d.id = s.document_id"
        )
        for path, anchor in rows:
            anchors[str(path)].add(str(anchor))
        return {path: frozenset(found) for path, found in anchors.items()}

    @_locked
    def manifest(self, document_id: str) -> DocumentManifest | None:
        """Return the stored ids and hashes of one document, or None when nothing is stored."""
        doc = self.conn.execute(
            "SELECT source_path, checksum FROM documents WHERE id = ?", (document_id,)
        ).fetchone()
        sections = dict(
            self.conn.execute(
                "SELECT id, content_hash FROM sections WHERE document_id = ?", (document_id,)
            ).fetchall()
        )
        chunks = dict(
            self.conn.execute(
                "SELECT id, content_hash FROM chunks WHERE document_id = ?", (document_id,)
            ).fetchall()
        )
        if doc is None and not sections and not chunks:
            return None
        path, checksum = (str(doc[0]), str(doc[1])) if doc else ("", None)
        return DocumentManifest(document_id, path, checksum, sections, chunks)

    @_locked
    def stats(self) -> dict[str, int]:
        """Return row counts of every table (vectors: chunks that carry one)."""
        queries = {
            "documents": "SELECT COUNT(*) FROM documents",
            "sections": "SELECT COUNT(*) FROM sections",
            "chunks": "SELECT COUNT(*) FROM chunks",
            "vectors": "SELECT COUNT(*) FROM chunks WHERE vector IS NOT NULL",
            "edges": "SELECT COUNT(*) FROM edges",
            "fts_rows": "SELECT COUNT(*) FROM chunks_fts",
            "cached_embeddings": "SELECT COUNT(*) FROM embedding_cache",
        }
        return {name: int(self.conn.execute(q).fetchone()[0]) for name, q in queries.items()}

    @_locked
    def labels(self) -> list[tuple[Labels, float]]:
        """Every (collection, version) that holds documents, with when it was first ingested."""
        rows = self.conn.execute(
            "SELECT l.collection, l.version, l.first_ingested_at FROM labels l WHERE EXISTS "
            "(SELECT 1 FROM documents d WHERE d.collection = l.collection AND "
            "d.version = l.version)")
        return [(Labels(str(c), str(v)), float(t)) for c, v, t in rows]

    @_locked
    def document_labels(self) -> dict[str, Labels]:
        """Document id -> its labels, for every stored document."""
        rows = self.conn.execute("SELECT id, collection, version FROM documents")
        return {str(i): Labels(str(c), str(v)) for i, c, v in rows}

    @_locked
    def lexical(self, match: str, k: int, scope: Scope = None) -> list[ChunkHit]:
        """Return the ``k`` best chunks for an FTS5 MATCH expression within ``scope``, best
        first (filtered before ranking is cut at ``k``, so ``k`` stays exact)."""
        where, params = "", list[str]()
        if scope is not None:
            # The scope's documents once (from the label index), then a membership test per match
            condition, params = scope_sql(scope)
            where = f"AND c.document_id IN (SELECT d.id FROM documents d WHERE {condition}) "
        rows = self.conn.execute(
            # Weights title, heading path, text: a word in a heading says more than one in text.
            "SELECT c.id, bm25(chunks_fts, 2.0, 3.0, 1.0) "
            "FROM chunks_fts JOIN chunks c ON c.rid = chunks_fts.rowid "
            f"WHERE chunks_fts MATCH ? {where}ORDER BY 2 LIMIT ?",
            (match, *params, k),
        )
        return [ChunkHit(str(cid), float(score)) for cid, score in rows]

    @_locked
    def snippets(self, match: str, chunk_ids: list[str]) -> dict[str, str]:
        """Return chunk id -> FTS5 snippet of the matched words, for the chunks that match.

        Asked only for the chunks shown: a snippet costs more than ranking its chunk.
        """
        rows = self.conn.execute(
            f"SELECT c.id, snippet(chunks_fts, 2, ?, ?, ' … ', {_SNIPPET_TOKENS}) "
            "FROM chunks_fts JOIN chunks c ON c.rid = chunks_fts.rowid "
            f"WHERE chunks_fts MATCH ? AND c.id IN ({_marks(len(chunk_ids))})",
            (HIGHLIGHT_OPEN, HIGHLIGHT_CLOSE, match, *chunk_ids),
        )
        return {str(cid): str(snip) for cid, snip in rows}

    def vectors(self, model: str) -> tuple[list[str], Vectors]:
        """Return the chunk ids and the matrix of their stored vectors for one model."""
        ids, _, matrix = self.labelled_vectors(model)
        return ids, matrix

    @_locked
    def labelled_vectors(self, model: str) -> tuple[list[str], list[Labels], Vectors]:
        """The chunk ids, their documents' labels and the matrix of their vectors (one read)."""
        ids: list[str] = []
        labels: list[Labels] = []
        known: dict[tuple[str, str], Labels] = {}
        blobs: list[bytes] = []
        for chunk_id, collection, version, blob in self.conn.execute(
            "SELECT c.id, d.collection, d.version, c.vector FROM chunks c "
            "JOIN documents d ON d.id = c.document_id "
            "WHERE c.embedding_model = ? AND c.vector IS NOT NULL",
            (model,),
        ):
            ids.append(str(chunk_id))
            pair = (str(collection), str(version))
            if pair not in known:  # one Labels per pair: building one checks both strings
                known[pair] = Labels(*pair)
            labels.append(known[pair])
            blobs.append(blob)
        if not blobs:
            return ids, labels, np.zeros((0, 0), dtype=np.float32)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
        return ids, labels, matrix

    @_locked
    def chunk_info(self, chunk_ids: list[str]) -> dict[str, ChunkInfo]:
        """Return section, document and text of each chunk id that exists."""
        marks = _marks(len(chunk_ids))
        rows = self.conn.execute(
            "SELECT c.id, c.section_id, c.document_id, d.source_path, d.title, s.heading_path, "
            "s.anchor, c.text, d.collection, d.version FROM chunks c "
            "JOIN sections s ON s.id = c.section_id "
            f"JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})",
            chunk_ids,
        )
        return {
            str(r[0]): ChunkInfo(
                str(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                str(r[4]),
                tuple(json.loads(r[5])),
                str(r[6]),
                str(r[7]),
                str(r[8]),
                str(r[9]),
            )
            for r in rows
        }

    @_locked
    def version(self) -> int:
        """Return the change counter of chunks and vectors (caches compare it)."""
        return data_version(self.conn)

    @_locked
    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _check_vectors(doc: Document, vectors: Vectors) -> None:
    if vectors.ndim != 2 or vectors.shape[0] != len(doc.chunks):
        raise ValueError(
            f"document {doc.source_path}: {len(doc.chunks)} chunks but vectors of shape "
            f"{vectors.shape}"
        )
