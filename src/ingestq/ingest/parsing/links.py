"""Turn an href found in a document into a Link, resolving local document targets to their ids."""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
from urllib.parse import unquote, urlsplit

from ingestq.ingest.parsing.identity import Labels, document_id_for, normalise_path
from ingestq.ingest.parsing.model import Link

# Extensions of the files the ingestion pipeline parses as documents (see parse.detect_format);
# a link to anything else (an image, a Python file) is kept but has no target document.
DOCUMENT_EXTENSIONS = frozenset({".md", ".markdown", ".mdx", ".html", ".htm"})

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def local_target_path(href: str, source_path: str) -> str | None:
    """Return the file a relative document link points at, or None when it is not one.

    Absolute URLs (any scheme), protocol-relative and site-absolute paths (``/x.md``, whose root is
    unknown) and bare ``#fragment`` links have no local target. The query and fragment are
    dropped and percent-escapes decoded before the path is resolved against the source's folder.
    The target need not exist yet: it may be ingested later, and the id does not depend on it.
    """
    href = href.strip()
    if not href or href.startswith(("#", "/", "\\")) or _SCHEME.match(href):
        return None
    relative = unquote(urlsplit(href).path)
    if not relative:
        return None
    extension = posixpath.splitext(relative)[1].lower()
    if extension not in DOCUMENT_EXTENSIONS:
        return None
    return os.path.join(os.path.dirname(source_path), *relative.split("/"))


def make_link(href: str, text: str, source_path: str) -> Link:
    """Build a Link; ``target_document_id`` is set when ``href`` names a local document."""
    target = local_target_path(href, source_path)
    if target is None:
        return Link(href=href, text=text.strip())
    path = normalise_path(target)
    return Link(href=href, text=text.strip(), target_document_id=document_id_for(path),
                target_path=path)


def labelled(link: Link, labels: Labels) -> Link:
    """The link as found in a document with ``labels``: its target is the same-labelled page."""
    if link.target_path is None or not labels:
        return link
    return dataclasses.replace(link, target_document_id=document_id_for(link.target_path, labels))
