"""Deterministic identities: normalised paths and the hash-derived ids of documents and sections.

Every id is 32 lowercase hex characters (128 bits of sha256), so a store that needs UUIDs (Qdrant
point ids) can use ``uuid.UUID(hex=id)`` without a lookup table.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

ID_HEX_CHARS = 32
MAX_LABEL_CHARS = 128
# Reserved in labels: a trailing "*" selects versions by prefix (see ingest/scope.py).
PREFIX_MARK = "*"

# A separator that cannot appear in a path or a heading title, so ("a", "b c") and ("a b", "c")
# never hash alike.
_FIELD_SEPARATOR = "\x1f"


def normalise_path(path: str | os.PathLike[str]) -> str:
    """Return the absolute path with '..', duplicate slashes and symlinks resolved.

    Two spellings of one file (``a/../b.md``, ``./b.md``, a symlink to it) give one string, so they
    are one document. A path that does not exist is still normalised as far as it can be.
    """
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def short_hash(*fields: str) -> str:
    """Hash the fields (unambiguously separated) to a 32-hex-character id."""
    joined = _FIELD_SEPARATOR.join(fields)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:ID_HEX_CHARS]


def check_label(kind: str, value: str) -> str:
    """Return ``value`` when it can be a collection or version label; ValueError says why not.

    Any string works (semver or not) within these bounds: no control characters (they would
    break renderings and the id hash's separator) and no "*", which selects by prefix.
    """
    if not isinstance(value, str):
        raise ValueError(f"{kind} must be a string, got {type(value).__name__}")
    if len(value) > MAX_LABEL_CHARS:
        raise ValueError(f"{kind} is {len(value)} characters, over {MAX_LABEL_CHARS}")
    if PREFIX_MARK in value:
        raise ValueError(f"{kind} {value!r} contains {PREFIX_MARK!r}, which is reserved: a "
                         f"trailing {PREFIX_MARK!r} selects versions by prefix when searching")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"{kind} {value!r} contains a control character")
    if value != value.strip():
        raise ValueError(f"{kind} {value!r} starts or ends with white space")
    return value


@dataclass(frozen=True)
class Labels:
    """The collection and version an ingest root gives its documents; both empty: none."""

    collection: str = ""
    version: str = ""

    def __post_init__(self) -> None:
        """Refuse labels that could not be selected again (see :func:`check_label`)."""
        check_label("collection", self.collection)
        check_label("version", self.version)

    def __bool__(self) -> bool:
        """True when either label is set."""
        return bool(self.collection or self.version)

    def payload(self) -> dict[str, str]:
        """The labels set, as fields of a job's result."""
        return {k: v for k, v in (("collection", self.collection),
                                  ("version", self.version)) if v}


NO_LABELS = Labels()


def document_id_for(path: str | os.PathLike[str], labels: Labels = NO_LABELS) -> str:
    """Return the document id of a file: a hash of its normalised absolute path and labels.

    The same file under two versions (or collections) is two documents. Without labels the id
    is the path's alone, as before labels existed, so stores written then keep their ids.
    """
    if not labels:
        return short_hash("document", normalise_path(path))
    return short_hash("document", normalise_path(path), labels.collection, labels.version)


def sha256_text(text: str) -> str:
    """Return the full sha256 hex digest of the UTF-8 encoding of ``text``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
