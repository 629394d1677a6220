"""The in-process side of ``ingestctl eval``: the pipeline's search as a SearchFn, and the pages
and anchors its store holds, both with paths relative to the ingest root."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from ingestq.errors import ConfigError
from ingestq.ingest.eval_metrics import Hit
from ingestq.ingest.eval_run import KnownTargets, SearchFn
from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.search import SearchResult, search


def default_root(source_paths: Sequence[str]) -> Path:
    """The deepest folder holding every stored document: the root a golden set is relative to."""
    if not source_paths:
        raise ConfigError("nothing is ingested: run `ingestctl ingest PATH` first")
    return Path(os.path.commonpath([os.path.dirname(p) for p in source_paths]))


def relative(path: str, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes; unchanged when outside it.

    Stored paths are resolved (symlinks and ``..`` gone), so the root is resolved too.
    """
    try:
        return Path(path).relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def known_targets(pipeline: Pipeline, root: Path) -> KnownTargets:
    """Every stored page (relative to ``root``) with the anchors of its sections."""
    return {relative(p, root): a for p, a in pipeline.manifest.section_anchors().items()}


def to_hit(result: SearchResult, root: Path) -> Hit:
    """A search result as the metrics see it."""
    where = " > ".join(result.heading_path) or result.title
    return Hit(relative(result.source_path, root), result.anchor, result.score, where,
               result.section_id)


def pipeline_search(
    pipeline: Pipeline, root: Path,
    run: Callable[[Pipeline, str, int], list[SearchResult]] = search,
) -> SearchFn:
    """The pipeline's search (or ``run``, another ranking over it) as a SearchFn."""

    def search_fn(query: str, k: int) -> list[Hit]:
        return [to_hit(r, root) for r in run(pipeline, query, k)]

    return search_fn
