"""Find drift between the source files and every store, and say how to repair it.

The files on disk are the truth: each file known to the SQLite manifest or found under the
configured roots is parsed again, and every store's ids and content hashes are compared with the
result. Per document and store, drift is ``missing`` (in the source, not in the store),
``extra`` (in the store, not in the source, e.g. its file is gone), ``stale`` (hashes differ) or
``orphan`` (the SQLite manifest lost a document's record but kept its sections and chunks: search
no longer finds it, and nothing else starting from the documents table would notice).

An orphan's source is found among the files under the roots or beside the documents the manifest
knows (a document id is the hash of its path and labels); found, it is re-ingested, else its
rows are extra.

Labels: a document is parsed again under its own collection and version. One ingested under
labels its root does not carry (``ingestctl ingest --version 2``) whose file has changed or gone
since is a snapshot of a source that moved on (the tree is at another version now): the disk is
not its truth any more, so the other stores are compared with its SQLite record instead; it is
never re-ingested from the changed file, which would overwrite that version with another's
text, nor deleted because the file is gone.

Repair is the caller's: re-ingest ``reingest`` (path and labels) with ``force=True`` (the
checksum may match while one store lags), and delete ``delete_ids`` with :func:`delete_extras`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingestq.errors import PermanentError
from ingestq.ingest.parsing.identity import NO_LABELS, Labels, document_id_for
from ingestq.ingest.parsing.parse import (
    HTML_EXTENSIONS,
    MARKDOWN_EXTENSIONS,
    normalise_path,
    parse_file,
)
from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.stores.base import DocumentManifest, Store, manifest_of
from ingestq.ingest.stores.sqlite import SQLiteStore

# What a walk of the roots picks up: the formats the parser knows, not every file in the tree.
SOURCE_EXTENSIONS = MARKDOWN_EXTENSIONS | HTML_EXTENSIONS | {".txt"}

DriftKind = Literal["missing", "extra", "stale", "orphan"]


@dataclass(frozen=True)
class Drift:
    """One document that one store holds differently from its source."""

    store: str
    document_id: str
    source_path: str
    kind: DriftKind
    detail: str
    collection: str = ""
    version: str = ""


@dataclass(frozen=True)
class Source:
    """A file to ingest again, under the labels of the document that drifted."""

    path: str
    collection: str = ""
    version: str = ""

    @property
    def labels(self) -> Labels:
        """The labels to ingest it under."""
        return Labels(self.collection, self.version)


@dataclass(frozen=True)
class VerifyReport:
    """Everything verify found, and the work that repairs it."""

    checked_documents: int
    drift: tuple[Drift, ...]
    reingest: tuple[Source, ...]  # ingest again with force=True, under these labels
    delete_ids: tuple[str, ...]  # documents no source has any more: delete_extras()
    unreadable: tuple[str, ...]  # "path: error" of sources that no longer parse
    deleted: int = 0  # extras deleted because repair=True

    @property
    def ok(self) -> bool:
        """True when every store matches the sources."""
        return not self.drift

    @property
    def reingest_paths(self) -> tuple[str, ...]:
        """The paths of :attr:`reingest`, each once."""
        return tuple(dict.fromkeys(s.path for s in self.reingest))


@dataclass
class _Expected:
    manifests: dict[str, DocumentManifest]
    labels: dict[str, Labels]  # document id -> labels, of every document verify knows
    pinned: set[str]  # snapshots whose source moved on: never re-ingested from it


def verify(pipeline: Pipeline, repair: bool = False) -> VerifyReport:
    """Compare each store with the sources; with ``repair``, delete the extras at once."""
    expected, unreadable = _expected(pipeline)
    known_paths = pipeline.manifest.source_paths()
    orphans = _orphans(pipeline, known_paths, expected.labels)
    orphan_ids = {o.document_id for o in orphans}
    drift: list[Drift] = list(orphans)
    for store in pipeline.stores:
        drift.extend(d for d in _store_drift(store, expected, known_paths)
                     if not (store is pipeline.manifest and d.document_id in orphan_ids))
    reingest = sorted({Source(d.source_path, d.collection, d.version) for d in drift
                       if d.kind != "extra" and d.source_path
                       and d.document_id not in expected.pinned},
                      key=lambda s: (s.path, s.collection, s.version))
    delete = sorted({d.document_id for d in drift
                     if d.kind == "extra" or (d.kind == "orphan" and not d.source_path)})
    deleted = delete_extras(pipeline, delete) if repair else 0
    return VerifyReport(len(expected.manifests), tuple(drift), tuple(reingest), tuple(delete),
                        tuple(unreadable), deleted)


def _orphans(pipeline: Pipeline, known_paths: Mapping[str, str],
             known_labels: Mapping[str, Labels]) -> list[Drift]:
    ids = pipeline.manifest.orphan_ids()
    if not ids:
        return []
    folders = {str(Path(p).parent) for p in known_paths.values()}
    # An orphan's labels are lost with its record: try every label set the store knows.
    label_sets = {NO_LABELS, *known_labels.values(),
                  *(pipeline.settings.labels_for(r) for r in pipeline.settings.root_paths)}
    found: dict[str, tuple[str, Labels]] = {}
    for path in [*_walk(pipeline.settings.root_paths), *_siblings(folders)]:
        for labels in label_sets:
            document_id = document_id_for(path, labels)
            if document_id in ids:
                found.setdefault(document_id, (path, labels))
    none = ("", NO_LABELS)
    return [Drift(pipeline.manifest.name, i, found.get(i, none)[0], "orphan",
                  "sections and chunks without a document record, invisible to search: "
                  + ("its file is re-ingested on repair" if i in found else
                     "its file is not under the roots or beside a known document, so repair "
                     "deletes the rows; ingest the file again to restore it"),
                  found.get(i, none)[1].collection, found.get(i, none)[1].version)
            for i in sorted(ids)]


def _siblings(folders: set[str]) -> Iterator[str]:
    for folder in sorted(folders):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if Path(name).suffix.lower() in SOURCE_EXTENSIONS:
                yield normalise_path(os.path.join(folder, name))


def delete_extras(pipeline: Pipeline, document_ids: list[str] | tuple[str, ...]) -> int:
    """Delete documents from every store; return how many any store held."""
    return sum(1 for document_id in document_ids if pipeline.delete_document(document_id))


def _expected(pipeline: Pipeline) -> tuple[_Expected, list[str]]:
    settings, manifest = pipeline.settings, pipeline.manifest
    stored_labels = manifest.document_labels()
    # (path, labels) of every document held, and of every file under the roots as its root
    # labels it; each is one document.
    sources = {(path, stored_labels.get(i, NO_LABELS))
               for i, path in manifest.source_paths().items()}
    sources.update((path, settings.labels_for(path)) for path in _walk(settings.root_paths))
    found = _Expected({}, {}, set())
    unreadable: list[str] = []
    for path, labels in sorted(sources, key=lambda s: (s[0], s[1].collection, s[1].version)):
        snapshot = labels != settings.labels_for(path)
        if not os.path.isfile(path):
            if snapshot:  # a version's file that the tree at hand no longer has: keep it
                _keep_snapshot(found, manifest, document_id_for(path, labels), labels)
            continue  # its file is gone: whatever a store holds of it is extra
        try:
            doc = parse_file(path, pipeline.parse_options, labels)
        except PermanentError as exc:
            unreadable.append(f"{path}: {exc}")
            continue
        held = manifest.manifest(doc.id) if snapshot else None
        if held is not None and held.checksum != doc.checksum:
            _keep_snapshot(found, manifest, doc.id, labels)  # its source moved on
            continue
        found.manifests[doc.id] = manifest_of(doc)
        found.labels[doc.id] = labels
    return found, unreadable


def _keep_snapshot(found: _Expected, manifest: SQLiteStore, document_id: str,
                   labels: Labels) -> None:
    """Expect what the SQLite record holds of a version whose source moved on (module doc)."""
    held = manifest.manifest(document_id)
    if held is None:
        return
    found.manifests[document_id] = held
    found.labels[document_id] = labels
    found.pinned.add(document_id)


def _walk(roots: list[str]) -> Iterator[str]:
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                if Path(name).suffix.lower() in SOURCE_EXTENSIONS:
                    yield normalise_path(os.path.join(folder, name))


def _store_drift(
    store: Store, expected: _Expected, known_paths: Mapping[str, str]
) -> Iterator[Drift]:
    for document_id, want in expected.manifests.items():
        labels = expected.labels[document_id]
        note = (" (its source changed since this version was ingested: re-ingest it from a "
                "copy of that version)" if document_id in expected.pinned else "")
        have = store.manifest(document_id)
        if have is None:
            yield Drift(store.name, document_id, want.source_path, "missing", "no rows" + note,
                        labels.collection, labels.version)
            continue
        detail = _difference(want, have)
        if detail:
            yield Drift(store.name, document_id, want.source_path, "stale", detail + note,
                        labels.collection, labels.version)
    for document_id in sorted(store.document_ids() - set(expected.manifests)):
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
