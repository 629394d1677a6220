"""Which collections and versions a search or a listing reads (issue 18).

A selection names a ``collection`` (exact; None: every collection) and a ``version``:

- None: each selected collection answers from its **newest** version, the version label whose
  first ingest is the latest. Labels are free-form (``3.1``, ``2024-06``, ``main``, ``nightly``),
  so no ordering of the strings themselves is right for all of them; the order of ingests is
  known for every label. A re-ingest of an older version (a fixed typo in the 2.x docs) keeps
  its first time, so it does not become the newest.
- ``"3.1"``: exactly that version.
- ``"3.*"``: every version starting with ``3.`` (a trailing ``*`` makes a prefix; labels never
  contain ``*``). ``"*"`` alone: every version.

The selection is resolved against the labels the manifest holds into a set of (collection,
version) pairs, which every ranking filters on before it is cut at ``k``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ingestq.errors import IngestqError
from ingestq.ingest.parsing.identity import PREFIX_MARK, Labels, check_label

if TYPE_CHECKING:  # the CLI checks a selection before asking a service: no numpy, no store
    from ingestq.ingest.stores.base import Scope
    from ingestq.ingest.stores.sqlite import SQLiteStore


class SelectionError(IngestqError):
    """A collection or version selection that cannot name any label."""


def check_selection(collection: str | None, version: str | None) -> None:
    """SelectionError when ``collection`` is no label or ``version`` no label or prefix."""
    try:
        if collection is not None:
            check_label("collection", collection)
        if version is not None:
            stem = version[:-1] if version.endswith(PREFIX_MARK) else version
            check_label("version", stem)
    except ValueError as exc:
        raise SelectionError(f"{exc} (a version is a label, or a prefix ending in "
                             f"{PREFIX_MARK!r}: '3.{PREFIX_MARK}'; {PREFIX_MARK!r} alone is "
                             "every version)") from exc


def select(available: Iterable[tuple[Labels, float]], collection: str | None,
           version: str | None) -> frozenset[Labels]:
    """The (collection, version) pairs of ``available`` (labels, first ingest) selected."""
    check_selection(collection, version)
    pairs = [(labels, first) for labels, first in available
             if collection is None or labels.collection == collection]
    if version is None:
        newest: dict[str, tuple[float, str]] = {}
        for labels, first in pairs:
            key = (first, labels.version)  # the label as tie-break: deterministic
            if labels.collection not in newest or key > newest[labels.collection]:
                newest[labels.collection] = key
        return frozenset(Labels(c, v) for c, (_, v) in newest.items())
    if version.endswith(PREFIX_MARK):
        stem = version[:-1]
        return frozenset(labels for labels, _ in pairs if labels.version.startswith(stem))
    return frozenset(labels for labels, _ in pairs if labels.version == version)


def scope_for(store: SQLiteStore, collection: str | None = None, version: str | None = None
              ) -> Scope:
    """The scope of a selection over what ``store`` holds; None when it is everything."""
    available = store.labels()
    chosen = select(available, collection, version)
    if chosen == {labels for labels, _ in available}:
        return None  # no filter: the common case of a store without labels costs nothing
    return chosen


def known_labels(store: SQLiteStore) -> str:
    """The labels the store holds, newest first per collection, for an error message."""
    by_collection: dict[str, list[tuple[float, str]]] = {}
    for labels, first in store.labels():
        by_collection.setdefault(labels.collection, []).append((first, labels.version))
    parts = []
    for collection in sorted(by_collection):
        versions = [v or '""' for _, v in sorted(by_collection[collection], reverse=True)]
        parts.append(f"{collection or '(no collection)'}: {', '.join(versions)}")
    return "; ".join(parts) or "nothing ingested"
