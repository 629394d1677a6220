"""Find drift between the source files and every store, and say how to repair it.

The files on disk are the truth: each file known to the SQLite manifest or found under the
configured roots is parsed again, and every store's ids and content hashes are compared with the
result. Per document and store, drift is ``missing`` (in the source, not in the store),
``extra`` (in the store, not in the source, e.g. its file is gone) or ``stale`` (hashes differ).

Repair is the caller's: re-ingest ``reingest_paths`` with ``force=True`` (the checksum may match
while one store lags), and delete ``delete_ids`` with :func:`delete_extras`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingestq.errors import PermanentError
from ingestq.ingest.parsing.parse import (
    HTML_EXTENSIONS,
    MARKDOWN_EXTENSIONS,
    normalise_path,
    parse_file,
)
from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.stores.base import DocumentManifest, Store, manifest_of

# What a walk of the roots picks up: the formats the parser knows, not every file in the tree.
SOURCE_EXTENSIONS = MARKDOWN_EXTENSIONS | HTML_EXTENSIONS | {".txt"}

DriftKind = Literal["missing", "extra", "stale"]


@dataclass(frozen=True)
class Drift:
    """One document that one store holds differently from its source."""

    store: str
    document_id: str
    source_path: str
    kind: DriftKind
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    """Everything verify found, and the work that repairs it."""

    checked_documents: int
    drift: tuple[Drift, ...]
    reingest_paths: tuple[str, ...]  # ingest again with force=True
    delete_ids: tuple[str, ...]  # documents no source has any more: delete_extras()
    unreadable: tuple[str, ...]  # "path: error" of sources that no longer parse
    deleted: int = 0  # extras deleted because repair=True

    @property
    def ok(self) -> bool:
        """True when every store matches the sources."""
        return not self.drift


def verify(pipeline: Pipeline, repair: bool = False) -> VerifyReport:
    """Compare each store with the sources; with ``repair``, delete the extras at once."""
    expected, unreadable = _expected(pipeline)
    known_paths = pipeline.manifest.source_paths()
    drift: list[Drift] = []
    for store in pipeline.stores:
        drift.extend(_store_drift(store, expected, known_paths))
    reingest = sorted({d.source_path for d in drift if d.kind != "extra"})
    delete = sorted({d.document_id for d in drift if d.kind == "extra"})
    deleted = delete_extras(pipeline, delete) if repair else 0
    return VerifyReport(
        len(expected), tuple(drift), tuple(reingest), tuple(delete), tuple(unreadable), deleted
    )


def delete_extras(pipeline: Pipeline, document_ids: list[str] | tuple[str, ...]) -> int:
    """Delete documents from every store; return how many any store held."""
    return sum(1 for document_id in document_ids if pipeline.delete_document(document_id))


def _expected(pipeline: Pipeline) -> tuple[dict[str, DocumentManifest], list[str]]:
    paths = set(pipeline.manifest.source_paths().values())
    paths.update(_walk(pipeline.settings.roots))
    expected: dict[str, DocumentManifest] = {}
    unreadable: list[str] = []
    for path in sorted(paths):
        if not os.path.isfile(path):
            continue  # its file is gone: whatever a store holds of it is extra
        try:
            doc = parse_file(path, pipeline.parse_options)
        except PermanentError as exc:
            unreadable.append(f"{path}: {exc}")
            continue
        expected[doc.id] = manifest_of(doc)
    return expected, unreadable


def _walk(roots: list[str]) -> Iterator[str]:
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                if Path(name).suffix.lower() in SOURCE_EXTENSIONS:
                    yield normalise_path(os.path.join(folder, name))


def _store_drift(
    store: Store, expected: Mapping[str, DocumentManifest], known_paths: Mapping[str, str]
) -> Iterator[Drift]:
    for document_id, want in expected.items():
        have = store.manifest(document_id)
        if have is None:
            yield Drift(store.name, document_id, want.source_path, "missing", "no rows")
            continue
        detail = _difference(want, have)
        if detail:
            yield Drift(store.name, document_id, want.source_path, "stale", detail)
    for document_id in sorted(store.document_ids() - set(expected)):
        path = known_paths.get(document_id, "")
        yield Drift(store.name, document_id, path, "extra", "no source file parses to it")


def _difference(want: DocumentManifest, have: DocumentManifest) -> str:
    parts: list[str] = []
    if have.checksum is not None and have.checksum != want.checksum:
        parts.append("checksum differs")
    if have.sections is not None and want.sections is not None:
        parts.extend(_diff_ids("sections", want.sections, have.sections))
    parts.extend(_diff_ids("chunks", want.chunks, have.chunks))
    return "; ".join(parts)


def _diff_ids(kind: str, want: Mapping[str, str], have: Mapping[str, str]) -> list[str]:
    missing = len(want.keys() - have.keys())
    extra = len(have.keys() - want.keys())
    changed = sum(1 for key in want.keys() & have.keys() if want[key] != have[key])
    counts = {"missing": missing, "extra": extra, "changed": changed}
    return [f"{n} {kind} {what}" for what, n in counts.items() if n]
