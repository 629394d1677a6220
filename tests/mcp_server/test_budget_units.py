"""The budget helpers on their own: pieces join to the text, parts never repeat or skip."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingestq.ingest.parsing.tokens import count_tokens
from ingestq.mcp.budget import (
    MAX_PIECE_TOKENS,
    decode_cursor,
    encode_cursor,
    pieces,
    take_pieces,
)
from ingestq.mcp.library import Refused

TEXT = st.lists(st.sampled_from([*"ab .!?\n\t", "word ", "Sentence. ", "\n\n", "x" * 90]),
                max_size=120).map("".join)


@given(TEXT)
def test_pieces_join_to_the_text_and_stay_short(text: str) -> None:
    parts = pieces(text)
    assert "".join(parts) == text
    assert all(count_tokens(p) <= MAX_PIECE_TOKENS for p in parts)


@given(TEXT, st.integers(min_value=1, max_value=80))
def test_parts_cover_the_pieces_in_order_without_repeats(text: str, budget: int) -> None:
    all_pieces = pieces(text)
    start, covered = 0, []
    while start < len(all_pieces):
        end = take_pieces(all_pieces, start, budget, count_tokens)
        assert end > start
        covered += all_pieces[start:end]
        start = end
    assert covered == all_pieces


def test_a_cursor_continues_only_the_call_it_came_from() -> None:
    cursor = encode_cursor(7, "owner-a")
    assert decode_cursor(cursor, "owner-a") == 7
    for wrong in (("owner-b", cursor), ("owner-a", "garbage!"), ("owner-a", "e30")):
        try:
            decode_cursor(wrong[1], wrong[0])
        except Refused:
            continue
        raise AssertionError(f"cursor {wrong} was accepted")
