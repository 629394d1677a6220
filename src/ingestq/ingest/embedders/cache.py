"""The embedding cache: vectors by (model name, chunk content hash), kept in the SQLite file.

Re-ingesting an edited file embeds only the chunks whose text changed; every other vector comes
from here. The server stack keeps its cache in the same local file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence

import numpy as np

from ingestq.ingest.embedders.base import Vectors
from ingestq.ingest.stores.sqlite_db import write_transaction

# SQLite's default limit on bound parameters is 999 in old builds: stay well under it.
_LOOKUP_BATCH = 500


class EmbeddingCache:
    """Reads and writes cached vectors in the ``embedding_cache`` table of one connection."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        """Use ``conn`` (from :func:`ingestq.ingest.sqlite_db.connect`) under its owner's lock."""
        self._conn = conn
        self._lock = lock

    def get_many(self, model: str, hashes: Sequence[str]) -> dict[str, Vectors]:
        """Return the cached vector of each hash that has one (others are absent)."""
        found: dict[str, Vectors] = {}
        unique = list(dict.fromkeys(hashes))
        with self._lock:
            for start in range(0, len(unique), _LOOKUP_BATCH):
                batch = unique[start : start + _LOOKUP_BATCH]
                marks = ",".join("?" * len(batch))
                rows = self._conn.execute(
                    "SELECT content_hash, vector FROM embedding_cache "
                    f"WHERE model = ? AND content_hash IN ({marks})",
                    (model, *batch),
                ).fetchall()
                for content_hash, blob in rows:
                    found[content_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, vectors: Mapping[str, Vectors]) -> None:
        """Store vectors by content hash; an existing entry is left as it is (same input)."""
        if not vectors:
            return
        rows = [
            (model, content_hash, np.asarray(vector, dtype=np.float32).tobytes())
            for content_hash, vector in vectors.items()
        ]
        with self._lock, write_transaction(self._conn):
            self._conn.executemany(
                "INSERT OR IGNORE INTO embedding_cache (model, content_hash, vector) "
                "VALUES (?, ?, ?)",
                rows,
            )

    def count(self, model: str | None = None) -> int:
        """Return how many vectors are cached (for one model, or all)."""
        with self._lock:
            if model is None:
                row = self._conn.execute("SELECT COUNT(*) FROM embedding_cache").fetchone()
            else:
                row = self._conn.execute(
                    "SELECT COUNT(*) FROM embedding_cache WHERE model = ?", (model,)
                ).fetchone()
        return int(row[0])
