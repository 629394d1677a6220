"""Deterministic identities: normalised paths and the hash-derived ids of documents and sections.

Every id is 32 lowercase hex characters (128 bits of sha256), so a store that needs UUIDs (Qdrant
point ids) can use ``uuid.UUID(hex=id)`` without a lookup table.
"""

from __future__ import annotations

import hashlib
import os

ID_HEX_CHARS = 32

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


def document_id_for(path: str | os.PathLike[str]) -> str:
    """Return the document id of a file: a hash of its normalised absolute path."""
    return short_hash("document", normalise_path(path))


def sha256_text(text: str) -> str:
    """Return the full sha256 hex digest of the UTF-8 encoding of ``text``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
