"""One SQLite database file shared by every worker process: connection rules and schema.

Several processes write at once, so the file runs in WAL mode (readers never block the writer),
each connection waits up to ``busy_timeout`` for the write lock instead of failing with "database
is locked", and every write starts with ``BEGIN IMMEDIATE``: taking the write lock up front
means two writers queue at BEGIN rather than deadlock when a reader tries to upgrade.

The Python here cannot load SQLite extensions (``enable_load_extension`` is missing), so there is
no sqlite-vec: vectors are float32 blobs searched with numpy, fast enough at embedded scale.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ingestq.errors import TransientError

BUSY_TIMEOUT_MS = 30_000  # a write transaction is milliseconds; 30 s rides out a burst of them
SCHEMA_VERSION = 2  # 2: documents carry collection and version labels (issue 18)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, source_path TEXT NOT NULL, title TEXT NOT NULL, checksum TEXT NOT NULL,
    format TEXT NOT NULL, ingested_at REAL NOT NULL, section_count INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL, embedding_model TEXT NOT NULL, warnings TEXT NOT NULL,
    collection TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS sections (
    id TEXT PRIMARY KEY, document_id TEXT NOT NULL, parent_id TEXT, level INTEGER NOT NULL,
    title TEXT NOT NULL, heading_path TEXT NOT NULL, anchor TEXT NOT NULL, ord INTEGER NOT NULL,
    text TEXT NOT NULL, token_count INTEGER NOT NULL, content_hash TEXT NOT NULL,
    links TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sections_by_document ON sections (document_id);
-- rid is the FTS rowid, so an FTS row is found and deleted by key, never by a scan.
CREATE TABLE IF NOT EXISTS chunks (
    rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, section_id TEXT NOT NULL,
    document_id TEXT NOT NULL, ordinal INTEGER NOT NULL, text TEXT NOT NULL,
    token_count INTEGER NOT NULL, content_hash TEXT NOT NULL, embedding_model TEXT NOT NULL,
    vector BLOB
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks (document_id);
CREATE TABLE IF NOT EXISTS edges (
    src TEXT NOT NULL, kind TEXT NOT NULL, dst TEXT NOT NULL, document_id TEXT NOT NULL,
    PRIMARY KEY (src, kind, dst)
);
CREATE INDEX IF NOT EXISTS edges_by_document ON edges (document_id);
CREATE INDEX IF NOT EXISTS edges_by_dst ON edges (dst, kind);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    title, heading_path, text, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS embedding_cache (
    model TEXT NOT NULL, content_hash TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model, content_hash)
) WITHOUT ROWID;
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (and on first use create) the database with the multi-process settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE itself.
    # check_same_thread=False: handler threads share the connection under the store's lock.
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    _enable_wal(conn, path)
    # NORMAL is durable across process crashes in WAL mode; only power loss may drop the last
    # commits, which re-ingestion restores.
    conn.execute("PRAGMA synchronous = NORMAL")
    _create_schema(conn)
    return conn


def stored_checksums(path: Path, document_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(checksum, embedding model) of each of ``document_ids`` the manifest at ``path`` holds.

    For a reader outside the workers (``ingestctl ingest``): it neither creates the file nor
    takes a lock, and a file that does not exist yet holds nothing.
    """
    if not path.is_file():
        return {}
    found: dict[str, tuple[str, str]] = {}
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        ids = list(dict.fromkeys(document_ids))
        for start in range(0, len(ids), 500):  # under old SQLite's 999 bound parameters
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = conn.execute(
                f"SELECT id, checksum, embedding_model FROM documents WHERE id IN ({marks})",
                batch,
            ).fetchall()
            found.update((str(i), (str(c), str(m))) for i, c, m in rows)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return {}  # created by a worker that has not written its schema yet
        raise TransientError(f"cannot read SQLite database {path}: {exc}") from exc
    finally:
        conn.close()
    return found


def _create_schema(conn: sqlite3.Connection) -> None:
    # Statement by statement inside the transaction: executescript() would COMMIT first, and
    # two processes creating the schema at once must not interleave.
    with write_transaction(conn):
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('version', '0')")
        _stem_fts(conn)
        _add_labels(conn)


# When each (collection, version) was first ingested: "newest version" is the label seen last,
# and a later re-ingest of an old version must not make it the newest (docs/architecture.md).
_LABEL_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS labels (collection TEXT NOT NULL, version TEXT NOT NULL, "
    "first_ingested_at REAL NOT NULL, PRIMARY KEY (collection, version)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS documents_by_labels ON documents (collection, version)",
)


def _add_labels(conn: sqlite3.Connection) -> None:
    """Schema 1 -> 2 (same transaction): label columns on documents, the labels table.

    A store written before labels holds documents of collection "" at version "", whose ids
    are the path-only ids they always had, so it answers every query as it did.
    """
    columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(documents)")}
    for name in ("collection", "version"):
        if name not in columns:
            conn.execute(f"ALTER TABLE documents ADD COLUMN {name} TEXT NOT NULL DEFAULT ''")
    migrated = "collection" not in columns
    for statement in _LABEL_SCHEMA:
        conn.execute(statement)
    if migrated:
        conn.execute("INSERT OR IGNORE INTO labels SELECT collection, version, MIN(ingested_at) "
                     "FROM documents GROUP BY collection, version")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version' AND "
                 "CAST(value AS INTEGER) < ?", (str(SCHEMA_VERSION), SCHEMA_VERSION))


# FTS5's porter stemmer lets "uploads" find "upload" and "hashing" find "hash": page nDCG@10 on
# the fastapi-en golden set went from 0.734 to 0.760 (docs/search.md has the table).
_FTS_STEMMER = "porter"
_REBUILD_FTS = """
INSERT INTO chunks_fts (rowid, title, heading_path, text)
SELECT c.rid, d.title,
       COALESCE((SELECT group_concat(value, ' > ') FROM json_each(s.heading_path)), ''), c.text
FROM chunks c JOIN documents d ON d.id = c.document_id LEFT JOIN sections s ON s.id = c.section_id
"""


def _stem_fts(conn: sqlite3.Connection) -> None:
    """Rebuild an index made before stemming, from the chunks it indexes (same transaction)."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()
    if row is None or _FTS_STEMMER in str(row[0]):
        return
    conn.execute("DROP TABLE chunks_fts")
    fts_table = next(s for s in SCHEMA.split(";") if "chunks_fts" in s)
    conn.execute(fts_table)
    conn.execute(_REBUILD_FTS)
    bump_version(conn)


def data_version(conn: sqlite3.Connection) -> int:
    """Return the counter that every change of chunks bumps (search caches key on it)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    return int(row[0]) if row else 0


def bump_version(conn: sqlite3.Connection) -> None:
    """Increment the change counter; call inside the write transaction that changed chunks."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")


def _enable_wal(conn: sqlite3.Connection, path: Path) -> None:
    # Switching the journal mode needs a moment of exclusive access, and SQLite may answer
    # "locked" without calling the busy handler while another process opens the file.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise TransientError(f"cannot open SQLite database {path}: {exc}") from exc
            time.sleep(0.05)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one ``BEGIN IMMEDIATE`` transaction: all of it commits, or none."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        # Only after busy_timeout of waiting: the queue retries the job later.
        raise TransientError(f"SQLite write lock not available: {exc}") from exc
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
