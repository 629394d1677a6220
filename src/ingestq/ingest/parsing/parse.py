"""Parse a source file into a Document: sections following its heading tree, and chunks.

The entry points of ingestion parsing. ``parse_file`` reads the file safely (every bad input is a
``PermanentError`` naming the path; passing OS trouble is a ``TransientError``) and hands the
text to ``parse_text``, which picks the format parser and builds sections and chunks. All ids are
deterministic, so parsing the same file twice yields identical records.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from ingestq.errors import PermanentError
from ingestq.ingest.parsing.chunking import chunk_sections
from ingestq.ingest.parsing.html import parse_html
from ingestq.ingest.parsing.identity import NO_LABELS, Labels, document_id_for, normalise_path
from ingestq.ingest.parsing.links import labelled
from ingestq.ingest.parsing.markdown import parse_markdown
from ingestq.ingest.parsing.model import Document
from ingestq.ingest.parsing.reader import (
    MAX_DOCUMENT_BYTES,
    SourceFile,
    decode_source,
    open_source,
)
from ingestq.ingest.parsing.sections import Outline, build_sections
from ingestq.ingest.parsing.text import parse_plain_text
from ingestq.ingest.parsing.tokens import InputLimit

__all__ = [
    "FORMATS",
    "NO_LABELS",
    "Labels",
    "ParseOptions",
    "detect_format",
    "document_id_for",
    "normalise_path",
    "parse_file",
    "parse_source",
    "parse_text",
]

MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mdx"})
HTML_EXTENSIONS = frozenset({".html", ".htm"})

_PARSERS: dict[str, Callable[[str, str], Outline]] = {
    "markdown": parse_markdown,
    "html": parse_html,
    "text": parse_plain_text,
}
FORMATS = tuple(_PARSERS)


@dataclass(frozen=True)
class ParseOptions:
    """Limits and sizes for parsing; the defaults suit documentation sites."""

    roots: tuple[str, ...] = ()  # when non-empty, files must resolve inside one of these
    max_file_bytes: int = MAX_DOCUMENT_BYTES  # see there: bounds a parse's memory
    # Upper bound on a chunk's body. With ``input_limit`` (the embedder's, set by the pipeline)
    # bodies are counted in the embedder's tokens and also kept within what it reads.
    chunk_tokens: int = 400
    chunk_overlap_tokens: int = 50
    invalid_utf8: str = "replace"  # "replace" (U+FFFD, plus a warning) | "refuse"
    input_limit: InputLimit | None = None  # None: no limit known (hashing reads every word)

    def __post_init__(self) -> None:
        """Refuse sizes and choices that could never parse anything, at construction."""
        if self.max_file_bytes < 1:
            raise ValueError(f"max_file_bytes must be at least 1, got {self.max_file_bytes}")
        if not 0 <= self.chunk_overlap_tokens < self.chunk_tokens:
            raise ValueError(
                "need 0 <= chunk_overlap_tokens < chunk_tokens, got "
                f"{self.chunk_overlap_tokens} and {self.chunk_tokens}"
            )
        if self.invalid_utf8 not in ("replace", "refuse"):
            raise ValueError(
                f"invalid_utf8 must be 'replace' or 'refuse', not {self.invalid_utf8!r}"
            )


def detect_format(path: str) -> str:
    """Return "markdown" (.md .markdown .mdx), "html" (.html .htm) or "text" (anything else)."""
    extension = os.path.splitext(path)[1].lower()
    if extension in MARKDOWN_EXTENSIONS:
        return "markdown"
    if extension in HTML_EXTENSIONS:
        return "html"
    return "text"


def parse_file(path: str | os.PathLike[str], options: ParseOptions,
               labels: Labels = NO_LABELS) -> Document:
    """Read and parse one file; the format comes from its extension.

    Raises PermanentError (missing, directory, binary, empty, too large, outside the roots,
    symlink loop, invalid UTF-8 with ``invalid_utf8="refuse"``) or TransientError (EIO, EMFILE...).
    """
    with open_source(path, options.roots, options.max_file_bytes) as source:
        return parse_source(source, options, labels)


def parse_source(opened: SourceFile, options: ParseOptions, labels: Labels = NO_LABELS
                 ) -> Document:
    """Parse a file already opened and checked by :func:`open_source` (the pipeline's way).

    ``labels``: the collection and version of its root; they are part of the document's id.
    """
    source = decode_source(opened, options.invalid_utf8)
    return _build_document(
        source.text,
        source_path=source.path,
        fmt=detect_format(source.path),
        checksum=source.checksum,
        options=options,
        warnings=list(source.warnings),
        labels=labels,
    )


def parse_text(
    raw: str, *, source_path: str, fmt: str, checksum: str, options: ParseOptions,
    labels: Labels = NO_LABELS,
) -> Document:
    """Parse already-decoded text as if it were the file at ``source_path`` (not read here)."""
    return _build_document(
        raw, source_path=source_path, fmt=fmt, checksum=checksum, options=options, warnings=[],
        labels=labels,
    )


def _build_document(
    raw: str,
    *,
    source_path: str,
    fmt: str,
    checksum: str,
    options: ParseOptions,
    warnings: list[str],
    labels: Labels = NO_LABELS,
) -> Document:
    parser = _PARSERS.get(fmt)
    if parser is None:
        raise PermanentError(
            f"unknown format {fmt!r} for {source_path!r}; expected one of {', '.join(FORMATS)}"
        )
    path = normalise_path(source_path)
    document_id = document_id_for(path, labels)
    outline = parser(raw, path)
    title = outline.declared_title or _first_h1(outline) or PurePath(path).stem
    sections = build_sections(document_id, title, outline)
    if labels:
        sections = [dataclasses.replace(s, links=tuple(labelled(k, labels) for k in s.links))
                    for s in sections]
    chunks = chunk_sections(
        title, sections, options.chunk_tokens, options.chunk_overlap_tokens, options.input_limit
    )
    return Document(
        id=document_id,
        source_path=path,
        title=title,
        checksum=checksum,
        format=fmt,
        sections=sections,
        chunks=chunks,
        warnings=[*warnings, *outline.warnings],
        labels=labels,
    )


def _first_h1(outline: Outline) -> str | None:
    return next((raw.title for raw in outline.sections if raw.level == 1 and raw.title), None)
