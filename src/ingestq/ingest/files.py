"""From paths, directories and globs to ``file`` jobs: expanded at enqueue, deduplicated."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingestq.core.queue import JobSpec
from ingestq.errors import JobError
from ingestq.ingest.embedder_names import embedder_name
from ingestq.ingest.parsing.identity import NO_LABELS, Labels, document_id_for, normalise_path
from ingestq.ingest.parsing.reader import MAX_DOCUMENT_BYTES, open_source
from ingestq.ingest.settings import PipelineSettings
from ingestq.ingest.stores.sqlite_db import stored_checksums

DOC_SUFFIXES = (".md", ".markdown", ".mdx", ".html", ".htm", ".txt", ".text", ".rst")
FILE_KIND = "file"


@dataclass
class Expansion:
    """Files found for a set of paths, and the paths that named nothing usable."""

    files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    duplicates: int = 0


def _walk(directory: Path, pattern: str | None) -> Iterator[Path]:
    # is_file() is a stat, never an open: FIFOs and devices found here are skipped unread.
    if pattern:
        yield from (p for p in directory.rglob(pattern) if p.is_file())
        return
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.lower().endswith(DOC_SUFFIXES) and (Path(root) / name).is_file():
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


def checksum(path: str, roots: Sequence[str] = (), max_bytes: int = MAX_DOCUMENT_BYTES
             ) -> str | None:
    """The file's content checksum, or None when it cannot be used (the job will say why).

    The same function the worker's skip-unchanged uses (:meth:`SourceFile.checksum`), from a
    descriptor opened inside ``roots`` and checked to be a regular file within ``max_bytes``
    before a byte is read: a FIFO, a device or a path outside the roots is never read.
    """
    try:
        with open_source(path, tuple(roots), max_bytes) as source:
            return source.checksum()
    except JobError:
        return None


def labels_of(files: Iterable[str], settings: PipelineSettings, collection: str | None = None,
              version: str | None = None) -> dict[str, Labels]:
    """Path -> the labels its document gets: its root's, each overridden when given here.

    The one rule for every enqueuer (``ingest``, ``watch``, ``POST /ingest``, the MCP tool).
    ValueError when an override is not a valid label.
    """
    out: dict[str, Labels] = {}
    for path in files:
        root = settings.labels_for(path)
        out[path] = Labels(root.collection if collection is None else collection,
                           root.version if version is None else version)
    return out


def payload_labels(payload: Mapping[str, object], path: str, settings: PipelineSettings
                   ) -> Labels:
    """The labels a ``file`` job carries; its root's when it names none (jobs from clients that
    predate labels). ValueError for labels that are not strings or not valid."""
    if "collection" not in payload and "version" not in payload:
        return settings.labels_for(path)
    collection, version = payload.get("collection", ""), payload.get("version", "")
    if not isinstance(collection, str) or not isinstance(version, str):
        raise ValueError(f"collection and version must be strings, got {collection!r} and "
                         f"{version!r}")
    return Labels(collection, version)


def job_spec(path: str, *, force: bool = False, content_checksum: str | None = None,
             roots: Sequence[str] = (), labels: Labels | None = None) -> JobSpec:
    """A ``file`` job whose dedupe key is the document (path and labels) and its checksum.

    ``labels``: written into the payload, both of them, even when empty (an explicit "" must
    not turn into the root's labels at the worker); None: the worker takes the root's.

    While a job for the same document with the same content is pending or running, enqueueing
    again returns that job instead of a copy; changed content gets a job of its own.
    ``content_checksum``: :func:`checksum` of the file when the caller has it already; else it
    is computed here, confined to ``roots``.
    """
    digest = checksum(path, roots) if content_checksum is None else content_checksum
    key = f"file:{document_id_for(path, labels or NO_LABELS)}:{(digest or '')[:16]}"
    payload: dict[str, object] = {"path": path}
    if labels is not None:
        payload.update(collection=labels.collection, version=labels.version)
    if force:
        payload["force"] = True
    return JobSpec(FILE_KIND, payload, dedupe_key=key)


def unchanged_files(
    checksums: Mapping[str, str | None], settings: PipelineSettings, data_dir: Path,
    labels: Mapping[str, Labels] | None = None,
) -> set[str]:
    """The files whose content the manifest already holds, embedded by the configured embedder.

    ``labels``: path -> the labels it is ingested under (default: none); the same file under
    another version is another document, so its copy there never counts.

    The same test a worker makes before parsing (same checksum, same embedder name), made before
    enqueueing, so a re-ingest of an unchanged tree enqueues nothing. The manifest is the SQLite
    file these settings name, the one the workers sharing this configuration write.
    """
    named = labels or {}
    ids = {path: document_id_for(path, named.get(path, NO_LABELS)) for path in checksums}
    stored = stored_checksums(settings.sqlite_file(data_dir), list(ids.values()))
    model = embedder_name(settings.embedder)
    return {
        path
        for path, digest in checksums.items()
        if digest and stored.get(ids[path]) == (digest, model)
    }
