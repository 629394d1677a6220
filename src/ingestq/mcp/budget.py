"""Token budgets: one counter, whole-item packing, and cursors that continue without repeats.

The counter is the embedder's own tokenizer when it has one (sentence-transformers), else the
model-free count of :mod:`ingestq.ingest.tokens`; what it counts is the text content of a reply,
the Markdown the assistant reads. Replies are cut at whole hits, whole outline entries and, for a
long section, at paragraph, line or sentence ends: never inside a JSON value, and never inside a
sentence unless one sentence alone is longer than :data:`MAX_PIECE_TOKENS`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from ingestq.ingest.embedders import input_limit
from ingestq.ingest.parsing.tokens import count_tokens
from ingestq.ingest.settings import EmbedderSettings
from ingestq.mcp.library import Refused

# Smallest budget a caller may set: the header of a section or a hit list must fit beside text.
MIN_TOKENS = 200
# A sentence longer than this is cut between words, so any budget >= MIN_TOKENS makes progress.
MAX_PIECE_TOKENS = 60
_PIECE = re.compile(r".*?(?:\n|(?<=[.!?])[ \t]+|$)", re.DOTALL)
_WORDS = re.compile(r"\S+\s*")
_FOREIGN = ("cursor belongs to a different call: repeat the call with the same arguments as the "
            "one that returned it, or omit cursor")


@dataclass(frozen=True)
class Counter:
    """The documented token counter: ``count(text)`` and the name docs/mcp.md gives it."""

    name: str
    count: Callable[[str], int]


def counter_for(settings: EmbedderSettings) -> Counter:
    """The embedder's tokenizer when it has one, else the model-free word/symbol counter."""
    limit = input_limit(settings) if settings.kind == "sentence-transformers" else None
    if limit is not None:
        return Counter(f"{settings.model} tokenizer", limit.count)
    return Counter("ingestq.ingest.tokens.count_tokens", count_tokens)


def effective_budget(asked: int | None, ceiling: int) -> int:
    """The caller's budget, capped by the server's ceiling; Refused below the minimum."""
    if asked is None:
        return ceiling
    if asked < MIN_TOKENS:
        raise Refused(f"max_tokens {asked} is too small: use at least {MIN_TOKENS} (or omit it "
                      f"for the server's {ceiling})")
    return min(asked, ceiling)


def fingerprint(*fields: object) -> str:
    """A short hash of what a cursor belongs to (tool and arguments)."""
    return hashlib.sha256(json.dumps(fields, default=str).encode()).hexdigest()[:12]


def encode_cursor(offset: int, owner: str) -> str:
    """An opaque cursor for ``offset`` in the answer identified by ``owner``."""
    raw = json.dumps({"o": offset, "f": owner}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, owner: str) -> int:
    """The offset a cursor continues at; 0 for none; Refused for a foreign or broken one."""
    if not cursor:
        return 0
    data = _decode(cursor)
    offset = data.get("o")
    if data.get("f") != owner or not isinstance(offset, int) or offset < 0:
        raise Refused(_FOREIGN)
    return offset


def encode_keyed(key: str, owner: str) -> str:
    """An opaque cursor that continues after ``key`` (a sort key, e.g. a path)."""
    raw = json.dumps({"k": key, "f": owner}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_keyed(cursor: str, owner: str) -> str:
    """The key a keyed cursor continues after; Refused for a foreign or broken one."""
    data = _decode(cursor)
    if data.get("f") != owner or not isinstance(data.get("k"), str):
        raise Refused(_FOREIGN)
    return str(data["k"])


def _decode(cursor: str) -> dict[str, object]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        data = None
    if not isinstance(data, dict):
        raise Refused("cursor is not one this server gave out: pass next_cursor exactly as "
                      "received, or omit cursor to start from the top")
    return data


def fit(blocks: list[str], budget: int, fixed: str, count: Callable[[str], int],
        joiner: str = "\n\n") -> int:
    """How many leading ``blocks`` fit with ``fixed`` text in ``budget`` tokens (at least 1
    when there is any, so every page makes progress)."""
    used = count(fixed)
    taken = 0
    for block in blocks:
        used += count(block + joiner)
        if used > budget and taken:
            break
        taken += 1
        if used > budget:
            break
    return taken


def pieces(text: str) -> list[str]:
    """The text cut after line ends and sentence ends, over-long pieces between words;
    joined, the pieces are the text again."""
    out: list[str] = []
    for match in _PIECE.finditer(text):
        piece = match.group(0)
        if not piece:
            continue
        if count_tokens(piece) <= MAX_PIECE_TOKENS:
            out.append(piece)
            continue
        words = _WORDS.findall(piece) or [piece]
        current = ""
        for word in words:
            if current and count_tokens(current + word) > MAX_PIECE_TOKENS:
                out.append(current)
                current = ""
            current += word
        if current:
            out.append(current)
    return out


def take_pieces(all_pieces: list[str], start: int, budget: int,
                count: Callable[[str], int]) -> int:
    """The end index of the part beginning at ``start`` that fits ``budget`` tokens; it ends at
    a paragraph end when one lies in the second half of the part."""
    end, used = start, 0
    while end < len(all_pieces):
        cost = count(all_pieces[end])
        if used + cost > budget and end > start:
            break
        used += cost
        end += 1
    if end < len(all_pieces):
        breaks = [i + 1 for i in range(start, end) if all_pieces[i].endswith("\n\n")
                  or (all_pieces[i] == "\n" and i > start and all_pieces[i - 1].endswith("\n"))]
        good = [b for b in breaks if b - start >= (end - start) / 2]
        if good:
            end = good[-1]
    return end
