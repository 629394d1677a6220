"""Split each section's text into overlapping chunks of about ``chunk_tokens`` tokens.

The text is cut into units at the coarsest boundary that makes every unit fit: paragraphs
(blank lines), then lines, then sentences, and only as a last resort fixed token windows. Units
are packed greedily into chunks; each next chunk starts with the last units of the previous one
that fit in ``overlap_tokens``. A chunk is a slice of the original text, so separators survive.

Every chunk's text starts with a prefix line, the heading path (``Doc > Section > Sub``), then a
blank line: the chunk is embedded alone, and its headings say what it is about. A section with
no text yields no chunk (its heading is in the prefix of its subsections' chunks).

With an :class:`~ingestq.ingest.tokens.InputLimit` (an embedder that reads at most N tokens, such
as all-MiniLM-L6-v2 with 256 word pieces), sizes are counted with the embedder's own tokenizer
and every chunk, prefix and special tokens included, fits in N: the body budget is
``min(chunk_tokens, N - special tokens - prefix)``, so no chunk's tail is cut off unseen. Without
one, sizes are :func:`~ingestq.ingest.tokens.count_tokens` tokens and ``chunk_tokens`` applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ingestq.ingest.parsing.identity import sha256_text, short_hash
from ingestq.ingest.parsing.model import Chunk, Section
from ingestq.ingest.parsing.tokens import TOKEN_PATTERN, InputLimit, count_tokens

HEADING_PATH_SEPARATOR = " > "
# Below this many tokens of body a chunk says too little to be worth embedding: a heading path so
# long that less room is left is the one case where the embedder may still cut a chunk's tail.
MIN_BODY_TOKENS = 16

Counter = Callable[[str], int]

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
    limit: InputLimit | None = None,
) -> list[Chunk]:
    """Chunk every section in order; ids and hashes are deterministic for equal inputs.

    ``limit``: the embedder's input limit; each chunk then fits in it (see the module docstring).
    """
    chunks: list[Chunk] = []
    for section in sections:
        head = f"{heading_prefix(document_title, section)}\n\n"
        bodies = _bodies(section.text, head, chunk_tokens, overlap_tokens, limit)
        for ordinal, body in enumerate(bodies):
            text = head + body
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


def _bodies(
    text: str, head: str, chunk_tokens: int, overlap_tokens: int, limit: InputLimit | None
) -> list[str]:
    """The chunk bodies of one section whose chunks start with ``head``."""
    if limit is None:
        return split_text(text, chunk_tokens, overlap_tokens)
    room = limit.max_tokens - limit.reserved - limit.count(head)
    budget = max(MIN_BODY_TOKENS, min(chunk_tokens, room))
    bodies = split_text(text, budget, min(overlap_tokens, budget // 4), limit.count)
    if room < MIN_BODY_TOKENS:
        return bodies

    def fits(body: str) -> bool:
        return limit.count(head + body) + limit.reserved <= limit.max_tokens

    return [piece for body in bodies for piece in _refit(body, budget, limit.count, fits)]


def _refit(body: str, budget: int, count: Counter, fits: Callable[[str], bool]) -> list[str]:
    """Cut ``body`` smaller until every piece fits.

    Token counts add up over pieces cut at whitespace for the usual tokenizers, so this is a
    safety net for one that does not (a piece whose tokens merge with its neighbour's).
    """
    if budget <= 1 or fits(body):
        return [body]
    smaller = max(1, budget - max(1, budget // 8))
    return [p for piece in split_text(body, smaller, 0, count)
            for p in _refit(piece, smaller, count, fits)]


def split_text(
    text: str, chunk_tokens: int, overlap_tokens: int, count: Counter = count_tokens
) -> list[str]:
    """Split ``text`` into bodies of about ``chunk_tokens`` tokens with about ``overlap_tokens``.

    Tokens are counted by ``count`` (default :func:`~ingestq.ingest.tokens.count_tokens`).
    """
    if chunk_tokens < 1 or overlap_tokens < 0 or overlap_tokens >= chunk_tokens:
        raise ValueError(
            f"need chunk_tokens >= 1 and 0 <= overlap < chunk_tokens, "
            f"got {chunk_tokens} and {overlap_tokens}"
        )
    if not text.strip():
        return []
    units = _units(text, 0, len(text), chunk_tokens, 0, count)
    sizes = [count(text[start:end]) for start, end in units]
    groups = _pack(sizes, chunk_tokens, overlap_tokens)
    return [text[units[first][0] : units[last][1]] for first, last in groups]


def _units(text: str, start: int, end: int, limit: int, depth: int, count: Counter) -> list[Span]:
    """Spans of ``text[start:end]`` that each fit in ``limit``, cut at the coarsest boundary."""
    if count(text[start:end]) <= limit:
        return [_strip(text, start, end)]
    if depth == len(_BOUNDARIES):
        return _token_windows(text, start, end, limit, count)
    pieces: list[Span] = []
    cursor = start
    for match in _BOUNDARIES[depth].finditer(text, start, end):
        pieces.append((cursor, match.start()))
        cursor = match.end()
    pieces.append((cursor, end))
    units: list[Span] = []
    for piece_start, piece_end in pieces:
        if text[piece_start:piece_end].strip():
            units.extend(_units(text, piece_start, piece_end, limit, depth + 1, count))
    return units


def _token_windows(text: str, start: int, end: int, limit: int, count: Counter) -> list[Span]:
    """Cut a span with no usable boundary into windows of at most ``limit`` counted tokens.

    Windows end at :data:`TOKEN_PATTERN` tokens; one such token longer than ``limit`` by itself
    (a hash, a base64 blob) is cut every ``limit`` characters, which no tokenizer that spends at
    least one character per token can exceed.
    """
    spans: list[Span] = []
    first, total, last_end = -1, 0, start
    for match in TOKEN_PATTERN.finditer(text, start, end):
        size = 1 if count is count_tokens else count(match.group())
        if size > limit:
            if first >= 0:
                spans.append((first, last_end))
                first, total = -1, 0
            spans.extend((i, min(i + limit, match.end()))
                         for i in range(match.start(), match.end(), limit))
            continue
        if first >= 0 and total + size > limit:
            spans.append((first, last_end))
            first, total = -1, 0
        if first < 0:
            first = match.start()
        total += size
        last_end = match.end()
    if first >= 0:
        spans.append((first, last_end))
    return spans


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
