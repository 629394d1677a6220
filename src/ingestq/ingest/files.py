"""From paths, directories and globs to ``file`` jobs: expanded at enqueue, deduplicated."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingestq.ingest.identity import document_id_for, normalise_path
from ingestq.queue import JobSpec

DOC_SUFFIXES = (".md", ".markdown", ".mdx", ".html", ".htm", ".txt", ".text", ".rst")
FILE_KIND = "file"


@dataclass
class Expansion:
    """Files found for a set of paths, and the paths that named nothing usable."""

    files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    duplicates: int = 0


def _walk(directory: Path, pattern: str | None) -> Iterator[Path]:
    if pattern:
        yield from (p for p in directory.rglob(pattern) if p.is_file())
        return
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.lower().endswith(DOC_SUFFIXES):
                yield Path(root) / name


def expand(paths: Iterable[str], pattern: str | None = None) -> Expansion:
    """Directories recursively (documentation suffixes, or ``pattern``), globs, single files.

    Two spellings of one file (relative, absolute, through a symlink) count once.
    """
    out = Expansion()
    seen: set[str] = set()
    for raw in paths:
        candidates: Iterable[Path]
        p = Path(raw)
        if p.is_dir():
            candidates = _walk(p, pattern)
        elif p.exists() or p.is_symlink():
            candidates = [p]
        elif glob.has_magic(raw):
            candidates = [Path(m) for m in sorted(glob.glob(raw, recursive=True))]
        else:
            out.missing.append(raw)
            continue
        for c in candidates:
            norm = normalise_path(c) if not c.is_symlink() or c.exists() else os.path.abspath(c)
            if norm in seen:
                out.duplicates += 1
                continue
            seen.add(norm)
            out.files.append(norm)
    return out


def checksum(path: str) -> str:
    """sha256 of the file's bytes ('' when it cannot be read: the job will say why)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return ""
    return h.hexdigest()


def job_spec(path: str, *, force: bool = False) -> JobSpec:
    """A ``file`` job whose dedupe key is the document and its content checksum.

    While a job for the same document with the same content is pending or running, enqueueing
    again returns that job instead of a copy; changed content gets a job of its own.
    """
    key = f"file:{document_id_for(path)}:{checksum(path)[:16]}"
    payload: dict[str, object] = {"path": path}
    if force:
        payload["force"] = True
    return JobSpec(FILE_KIND, payload, dedupe_key=key)
