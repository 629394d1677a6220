"""Enqueue files for a remote caller (HTTP ``POST /ingest``, the MCP ``ingest`` tool): only
paths inside the configured roots, checked before and after expansion (a symlink may point out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ingestq.core.queue import Enqueued, Queue
from ingestq.errors import IngestqError
from ingestq.ingest.files import expand, job_spec, labels_of
from ingestq.ingest.parsing.identity import normalise_path
from ingestq.ingest.settings import PipelineSettings
from ingestq.tracing import enqueue_span


class OutsideRoots(IngestqError):
    """Ingest by a remote caller is off (no roots), or a path lies outside the roots."""


class InvalidLabels(IngestqError):
    """A collection or version label that could not be selected again (see check_label)."""


@dataclass(frozen=True)
class Submitted:
    """The files found inside the roots, the paths that named nothing, and their jobs."""

    files: list[str]
    missing: list[str]
    results: list[Enqueued]


def submit_paths(queue: Queue, settings: PipelineSettings, paths: Sequence[str], *,
                 glob: str | None = None, force: bool = False,
                 collection: str | None = None, version: str | None = None,
                 headers: Mapping[str, str] | None = None, what: str = "remote ingest"
                 ) -> Submitted:
    """Enqueue a file job for each file under ``paths``; OutsideRoots when any path is outside.

    ``collection`` / ``version``: labels for this ingest, each overriding the root's.
    """
    allowed = [normalise_path(r) for r in settings.root_paths]
    if not allowed:
        raise OutsideRoots(f"{what} is disabled: set ingest.pipeline.roots to the folders "
                           "it may read")
    outside = [p for p in paths if not _inside(normalise_path(p), allowed)]
    if outside:
        raise OutsideRoots(f"outside the configured roots {allowed}: {outside}")
    found = expand(paths, glob)
    files = [f for f in found.files if _inside(f, allowed)]  # symlinks may point out
    try:
        labels = labels_of(files, settings, collection, version)
    except ValueError as exc:
        raise InvalidLabels(str(exc)) from exc
    with enqueue_span("file", headers) as carry:
        # The checksum opens each file inside the roots, non-blocking, after checking it is a
        # regular file: a FIFO named here cannot hold a request thread.
        specs = [job_spec(f, force=force, roots=allowed, labels=labels[f]) for f in files]
        results = queue.enqueue_many([replace(s, payload={**s.payload, **carry}) for s in specs])
    return Submitted(files, found.missing, results)


def _inside(path: str, roots: list[str]) -> bool:
    return any(Path(path).is_relative_to(root) for root in roots)


def as_dicts(submitted: Submitted) -> list[dict[str, Any]]:
    """One ``{"id", "created", "path"}`` per job, in file order."""
    return [{"id": r.id, "created": r.created, "path": f}
            for r, f in zip(submitted.results, submitted.files, strict=True)]
