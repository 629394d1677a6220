"""Split each section's text into overlapping chunks of about ``chunk_tokens`` tokens.

The text is cut into units at the coarsest boundary that makes every unit fit: paragraphs
(blank lines), then lines, then sentences, and only as a last resort fixed token windows. Units
are packed greedily into chunks; each next chunk starts with the last units of the previous one
that fit in ``overlap_tokens``. A chunk is a slice of the original text, so separators survive.

Every chunk's text starts with a prefix line, the heading path (``Doc > Section > Sub``), then a
blank line: the chunk is embedded alone, and its headings say what it is about. A section with
no text yields no chunk (its heading is in the prefix of its subsections' chunks).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingestq.ingest.identity import sha256_text, short_hash
from ingestq.ingest.model import Chunk, Section
from ingestq.ingest.tokens import TOKEN_PATTERN, count_tokens

HEADING_PATH_SEPARATOR = " > "

_BOUNDARIES = (
    re.compile(r"\n[ \t]*\n\s*"),  # paragraphs
    re.compile(r"\n\s*"),  # lines
    re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])\s*"),  # sentences (Latin and CJK stops)
)

Span = tuple[int, int]


def chunk_id_for(section_id: str, ordinal: int) -> str:
    """Deterministic chunk id from its section id and its ordinal within the section."""
    return short_hash("chunk", section_id, str(ordinal))


def heading_prefix(document_title: str, section: Section) -> str:
    """The chunk prefix line: document title then heading path, without repeating the title."""
    path = list(section.heading_path)
    if not path or path[0] != document_title:
        path.insert(0, document_title)
    return HEADING_PATH_SEPARATOR.join(part for part in path if part)


def chunk_sections(
    document_title: str,
    sections: Sequence[Section],
    chunk_tokens: int,
    overlap_tokens: int,
) -> list[Chunk]:
    """Chunk every section in order; ids and hashes are deterministic."""
    chunks: list[Chunk] = []
    for section in sections:
        prefix = heading_prefix(document_title, section)
        for ordinal, body in enumerate(split_text(section.text, chunk_tokens, overlap_tokens)):
            text = f"{prefix}\n\n{body}"
            chunks.append(
                Chunk(
                    id=chunk_id_for(section.id, ordinal),
                    section_id=section.id,
                    document_id=section.document_id,
                    ordinal=ordinal,
                    text=text,
                    token_count=count_tokens(text),
                    content_hash=sha256_text(text),
                )
            )
    return chunks


def split_text(text: str, chunk_tokens: int, overlap_tokens: int) -> list[str]:
    """Split ``text`` into bodies of about ``chunk_tokens`` tokens with about ``overlap_tokens``."""
    if chunk_tokens < 1 or overlap_tokens < 0 or overlap_tokens >= chunk_tokens:
        raise ValueError(
            f"need chunk_tokens >= 1 and 0 <= overlap < chunk_tokens, "
            f"got {chunk_tokens} and {overlap_tokens}"
        )
    if not text.strip():
        return []
    units = _units(text, 0, len(text), chunk_tokens, 0)
    sizes = [count_tokens(text[start:end]) for start, end in units]
    groups = _pack(sizes, chunk_tokens, overlap_tokens)
    return [text[units[first][0] : units[last][1]] for first, last in groups]


def _units(text: str, start: int, end: int, limit: int, depth: int) -> list[Span]:
    """Spans of ``text[start:end]`` that each fit in ``limit``, cut at the coarsest boundary."""
    if count_tokens(text[start:end]) <= limit:
        return [_strip(text, start, end)]
    if depth == len(_BOUNDARIES):
        return _token_windows(text, start, end, limit)
    pieces: list[Span] = []
    cursor = start
    for match in _BOUNDARIES[depth].finditer(text, start, end):
        pieces.append((cursor, match.start()))
        cursor = match.end()
    pieces.append((cursor, end))
    units: list[Span] = []
    for piece_start, piece_end in pieces:
        if text[piece_start:piece_end].strip():
            units.extend(_units(text, piece_start, piece_end, limit, depth + 1))
    return units


def _token_windows(text: str, start: int, end: int, limit: int) -> list[Span]:
    """Cut a span with no usable boundary into windows of ``limit`` tokens."""
    tokens = list(TOKEN_PATTERN.finditer(text, start, end))
    return [
        (tokens[i].start(), tokens[min(i + limit, len(tokens)) - 1].end())
        for i in range(0, len(tokens), limit)
    ]


def _strip(text: str, start: int, end: int) -> Span:
    piece = text[start:end]
    leading = len(piece) - len(piece.lstrip())
    trailing = len(piece) - len(piece.rstrip())
    return start + leading, end - trailing


def _pack(sizes: list[int], limit: int, overlap: int) -> list[tuple[int, int]]:
    """Greedily group unit indexes into (first, last) ranges of at most ``limit`` tokens."""
    groups: list[tuple[int, int]] = []
    first = 0
    while first < len(sizes):
        last, total = first, sizes[first]
        while last + 1 < len(sizes) and total + sizes[last + 1] <= limit:
            last += 1
            total += sizes[last]
        groups.append((first, last))
        if last + 1 == len(sizes):
            break
        # Step back over trailing units that fit in the overlap, but always move forward.
        next_first, carried = last + 1, 0
        while next_first - 1 > first and carried + sizes[next_first - 1] <= overlap:
            next_first -= 1
            carried += sizes[next_first]
        first = next_first
    return groups
