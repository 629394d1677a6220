"""What the MCP tools read: the stores and the embedder, opened once per server process.

Every store answers from the SQLite manifest for sections, outlines and documents (it holds them
on both stacks); vectors come from Qdrant on the server stack through the shared search function,
and ``related`` asks Neo4j when it is configured. The manifest is opened only once it exists, so a
server started before the first ingest neither creates it nor fails: it says what to do, and
answers as soon as a worker has written something.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ingestq.config import IngestSettings
from ingestq.errors import IngestqError
from ingestq.ingest.parsing.identity import normalise_path
from ingestq.mcp.models import DocumentSummary, OutlineEntry, SectionRef

if TYPE_CHECKING:
    import sqlite3

    from ingestq.core.queue import Queue
    from ingestq.ingest.pipeline import Pipeline
    from ingestq.ingest.stores.base import Scope


class Refused(IngestqError):
    """A tool call that cannot be answered as asked; the message says what to do instead."""


NOTHING_INGESTED = (
    "nothing has been ingested yet (no store at {path}): ingest documents first, e.g. "
    "`ingestctl ingest docs/` or the ingest tool, then call again"
)


def iso_time(epoch: float) -> str:
    """Seconds since the epoch as an ISO 8601 UTC time, to the millisecond (two ingests of one
    file within a second still read as earlier and later)."""
    stamp = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Library:
    """The ingested documents of one configuration, and its queue, opened on first use."""

    def __init__(self, settings: IngestSettings) -> None:
        """Remember the settings; nothing is opened until a tool needs it."""
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.sqlite_path = settings.pipeline.sqlite_file(self.data_dir)
        self._pipeline: Pipeline | None = None
        self._queue: Queue | None = None
        self._lock = threading.Lock()

    @property
    def store_kind(self) -> str:
        """"sqlite" on the embedded default, "server" with Qdrant (and Neo4j)."""
        return self.settings.pipeline.store.kind

    def pipeline(self) -> Pipeline:
        """The process's pipeline (stores and embedder); Refused while nothing was ingested."""
        if self._pipeline is not None:
            return self._pipeline
        with self._lock:
            if self._pipeline is None:
                if not self.sqlite_path.is_file():
                    raise Refused(NOTHING_INGESTED.format(path=self.sqlite_path))
                from ingestq.ingest.pipeline import Pipeline

                self._pipeline = Pipeline.open(self.settings.pipeline, self.data_dir)
            return self._pipeline

    def queue(self) -> Queue:
        """The queue, connected on first use (the embedded server starts when none is set)."""
        with self._lock:
            if self._queue is None:
                from ingestq.core.connection import connect
                from ingestq.core.queue import Queue

                # Short timeouts: a tool call must answer "Redis is down" in seconds, not hang.
                # (through connect: a Cluster client has no connection_pool of its own)
                client = connect(self.settings, socket_timeout=3.0, reconnect_timeout=2.0)
                self._queue = Queue(client, self.settings)
            return self._queue

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        store = self.pipeline().manifest
        with store.lock:
            yield store.conn

    def version(self) -> int:
        """The manifest's change counter: moves with every ingest that changed chunks."""
        if not self.sqlite_path.is_file():
            return -1
        return self.pipeline().manifest.version()

    def scope(self, collection: str | None, version: str | None) -> Scope:
        """The labels a call reads (ingest/scope.py); Refused when it names none held."""
        from ingestq.ingest.scope import SelectionError, known_labels, scope_for

        store = self.pipeline().manifest
        try:
            scope = scope_for(store, collection, version)
        except SelectionError as exc:
            raise Refused(str(exc)) from exc
        if scope is not None and not scope and store.labels():
            raise Refused(f"no documents in collection {collection or '(any)'}, version "
                          f"{version or '(newest)'}; the store holds {known_labels(store)}. "
                          "A version ending in '*' selects by prefix, '*' alone every version")
        return scope

    def close(self) -> None:
        """Close the stores and the connection."""
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None

    # -- sections -------------------------------------------------------------------------------

    def section_row(self, section_id: str) -> dict[str, object]:
        """One section with its document's path, title and ingest time; Refused when unknown."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT s.id, s.document_id, s.parent_id, s.level, s.title, s.heading_path, "
                "s.anchor, s.ord, s.text, s.token_count, s.content_hash, s.links, "
                "d.source_path, d.title, d.ingested_at, d.collection, d.version FROM sections s "
                "JOIN documents d ON d.id = s.document_id WHERE s.id = ?",
                (section_id,),
            ).fetchone()
        if row is None:
            raise Refused(
                f"no section {section_id!r}: it was never ingested, or its document changed and "
                "was re-ingested since (section ids follow the headings). Search again and use a "
                "section_id from the new hits"
            )
        keys = ("id", "document_id", "parent_id", "level", "title", "heading_path", "anchor",
                "ord", "text", "token_count", "content_hash", "links", "path", "doc_title",
                "ingested_at", "collection", "version")
        found = dict(zip(keys, row, strict=True))
        found["heading_path"] = json.loads(str(found["heading_path"]))
        found["links"] = json.loads(str(found["links"]))
        return found

    def section_refs(self, where: str, params: tuple[object, ...]) -> list[SectionRef]:
        """Sections matching a WHERE clause over ``sections``, in document order."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT id, title, anchor, level FROM sections WHERE {where} ORDER BY ord", params
            ).fetchall()
        return [SectionRef(section_id=r[0], title=r[1], anchor=r[2], level=r[3]) for r in rows]

    def neighbours(
        self, row: dict[str, object]
    ) -> tuple[SectionRef | None, SectionRef | None, SectionRef | None, list[SectionRef]]:
        """(parent, previous, next, children) of a section row."""
        doc, order = row["document_id"], row["ord"]
        parent = self.section_refs("id = ?", (row["parent_id"],)) if row["parent_id"] else []
        previous = self.section_refs("document_id = ? AND ord = ?", (doc, int(str(order)) - 1))
        following = self.section_refs("document_id = ? AND ord = ?", (doc, int(str(order)) + 1))
        children = self.section_refs("parent_id = ?", (row["id"],))
        return _first(parent), _first(previous), _first(following), children

    def freshness(self, section_ids: list[str]) -> dict[str, tuple[float, str]]:
        """Section id -> (its document's ingested_at, the section's content hash)."""
        if not section_ids:
            return {}
        marks = ",".join("?" * len(section_ids))
        with self._read() as conn:
            rows = conn.execute(
                "SELECT s.id, d.ingested_at, s.content_hash FROM sections s JOIN documents d "
                f"ON d.id = s.document_id WHERE s.id IN ({marks})",
                section_ids,
            ).fetchall()
        return {str(r[0]): (float(r[1]), str(r[2])) for r in rows}

    # -- documents ------------------------------------------------------------------------------

    def resolve_document(self, path_or_id: str) -> DocumentSummary:
        """A document by id, by path (absolute or relative to the working directory), or by the
        end of its path (``tutorial/body.md``) when that names exactly one."""
        given = path_or_id.strip()
        if not given:
            raise Refused("path_or_id is empty: pass a document_id from search, or a file path")
        with self._read() as conn:
            found = self._summaries(conn, "id = ?", (given,), 1)
            if found:
                return found[0]
            found = self._summaries(conn, "source_path = ?", (normalise_path(given),), 6)
            if not found:
                tail = "%/" + _like_escape(given.lstrip("/").replace(os.sep, "/"))
                found = self._summaries(conn, "source_path LIKE ? ESCAPE '\\'", (tail,), 6)
        if len(found) == 1:
            return found[0]
        if found:
            named = ", ".join(f"{d.path}{_labels_note(d)} (`{d.document_id}`)"
                              for d in found[:5])
            raise Refused(f"{given!r} matches several documents ({named}): pass a longer path "
                          "or the document_id")
        raise Refused(f"no ingested document {given!r}: use list_documents to see what is "
                      "ingested, or pass a document_id from search")

    def documents(self, path_prefix: str | None, after: tuple[str, str] | None, limit: int,
                  scope: Scope = None) -> list[DocumentSummary]:
        """Documents in ``scope`` whose path starts with the prefix, by path (then id), after
        the given (path, id): the same path under two versions is two documents."""
        from ingestq.ingest.stores.sqlite import scope_sql

        where, params = scope_sql(scope, "documents")
        if path_prefix:
            where += " AND source_path LIKE ? ESCAPE '\\'"
            params.append(_like_escape(path_prefix) + "%")
        if after is not None:
            where += " AND (source_path, id) > (?, ?)"
            params.extend(after)
        with self._read() as conn:
            return self._summaries(conn, where, tuple(params), limit)

    def _summaries(self, conn: sqlite3.Connection, where: str, params: tuple[object, ...],
                   limit: int) -> list[DocumentSummary]:
        rows = conn.execute(
            "SELECT id, source_path, title, section_count, ingested_at, checksum, collection, "
            f"version FROM documents WHERE {where} ORDER BY source_path, id LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [
            DocumentSummary(document_id=r[0], path=r[1], title=r[2], section_count=r[3],
                            ingested_at=iso_time(r[4]), checksum=r[5], collection=r[6],
                            version=r[7])
            for r in rows
        ]

    def outline(self, document_id: str) -> list[OutlineEntry]:
        """The document's sections in order, without their text."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, parent_id, level, title, anchor, token_count FROM sections "
                "WHERE document_id = ? ORDER BY ord",
                (document_id,),
            ).fetchall()
        return [
            OutlineEntry(section_id=r[0], parent_id=r[1], level=r[2], title=r[3], anchor=r[4],
                         token_count=r[5])
            for r in rows
        ]

    def section_texts(self, document_id: str) -> list[tuple[int, str, str]]:
        """(level, title, text) of each section in order, for the document resource."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT level, title, text FROM sections WHERE document_id = ? ORDER BY ord",
                (document_id,),
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def ingest_times(self) -> dict[str, float]:
        """Document id -> ingested_at of every stored document (what change polling compares)."""
        with self._read() as conn:
            return {str(r[0]): float(r[1])
                    for r in conn.execute("SELECT id, ingested_at FROM documents")}

    def document_ids(self) -> set[str]:
        """Ids of every stored document."""
        with self._read() as conn:
            return {str(r[0]) for r in conn.execute("SELECT id FROM documents")}

    # -- graph ----------------------------------------------------------------------------------

    def links_in(self, document_id: str) -> list[tuple[str, str, str, str, str]]:
        """(section id, document id, path, title, anchor) of sections linking to the document."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT s.id, s.document_id, d.source_path, s.title, s.anchor FROM edges e "
                "JOIN sections s ON s.id = e.src JOIN documents d ON d.id = s.document_id "
                "WHERE e.dst = ? AND e.kind = 'LINKS_TO' ORDER BY d.source_path, s.ord LIMIT 200",
                (document_id,),
            ).fetchall()
        return [tuple(str(v) for v in r) for r in rows]  # type: ignore[misc]

    def paths_of(self, document_ids: list[str]) -> dict[str, str]:
        """Document id -> source path, for the ids that are ingested."""
        if not document_ids:
            return {}
        marks = ",".join("?" * len(document_ids))
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT id, source_path FROM documents WHERE id IN ({marks})", document_ids
            ).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}


def _labels_note(doc: DocumentSummary) -> str:
    labels = " ".join(v for v in (doc.collection, doc.version) if v)
    return f" [{labels}]" if labels else ""


def _first(refs: list[SectionRef]) -> SectionRef | None:
    return refs[0] if refs else None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
