"""Polling folder watcher: a file is ready once its size and mtime stayed put for a while.

Polling (not inotify) because it sees files moved in from anywhere, works on network and bind
mounts, and needs no extra dependency; a scan is one ``stat`` per file.
"""

from __future__ import annotations

import os
from pathlib import Path

from ingestq.ingest.files import expand

Signature = tuple[int, int]  # (size, mtime in ns)


class Watcher:
    """Remembers what each file looked like and what was last enqueued for it."""

    def __init__(self, directory: str, *, pattern: str | None = None,
                 settle_seconds: float = 2.0) -> None:
        self.directory = directory
        self.pattern = pattern
        self.settle = settle_seconds
        self._seen: dict[str, tuple[Signature, float]] = {}  # path -> (signature, since)
        self._enqueued: dict[str, Signature] = {}

    def scan(self, now: float) -> list[str]:
        """Files whose signature has been stable for the settle time and was not enqueued yet."""
        ready = []
        present = set()
        for path in expand([self.directory], self.pattern).files:
            try:
                st = os.stat(path)
            except OSError:
                continue
            present.add(path)
            sig = (st.st_size, st.st_mtime_ns)
            prev = self._seen.get(path)
            if prev is None or prev[0] != sig:
                self._seen[path] = (sig, now)
                continue
            if now - prev[1] >= self.settle and self._enqueued.get(path) != sig:
                self._enqueued[path] = sig
                ready.append(path)
        for gone in set(self._seen) - present:
            self._seen.pop(gone, None)
            self._enqueued.pop(gone, None)
        return ready

    @property
    def root(self) -> Path:
        """The watched folder."""
        return Path(self.directory)
