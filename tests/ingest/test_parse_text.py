"""Plain text parsing: one level-0 section titled after the file stem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingestq.errors import PermanentError
from ingestq.ingest.parsing.parse import ParseOptions, detect_format, parse_file, parse_text


def test_plain_text_is_one_level_zero_section_titled_by_the_stem(tmp_path: Path) -> None:
    path = tmp_path / "release-notes.txt"
    path.write_text("# not a heading in plain text\n\nsecond paragraph\n", encoding="utf-8")
    document = parse_file(path, ParseOptions())
    assert document.format == "text"
    assert document.title == "release-notes"
    assert [(s.level, s.title, s.heading_path, s.anchor) for s in document.sections] == [
        (0, "release-notes", (), "")
    ]
    assert document.sections[0].text == "# not a heading in plain text\n\nsecond paragraph"


def test_plain_text_yields_a_chunk_prefixed_with_the_title() -> None:
    document = parse_text(
        "hello", source_path="/x/notes.log", fmt="text", checksum="x", options=ParseOptions()
    )
    assert [chunk.text for chunk in document.chunks] == ["notes\n\nhello"]


def test_the_format_follows_the_extension_case_insensitively() -> None:
    cases = {
        "a.md": "markdown",
        "b.MARKDOWN": "markdown",
        "c.mdx": "markdown",
        "d.html": "html",
        "e.HTM": "html",
        "f.txt": "text",
        "g.rst": "text",
        "Makefile": "text",
    }
    assert {name: detect_format(name) for name in cases} == cases


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"chunk_tokens": 50, "chunk_overlap_tokens": 50}, "chunk_overlap_tokens"),
        ({"chunk_overlap_tokens": -1}, "chunk_overlap_tokens"),
        ({"max_file_bytes": 0}, "max_file_bytes"),
        ({"invalid_utf8": "ignore"}, "invalid_utf8"),
    ],
)
def test_options_that_could_never_parse_are_refused_at_construction(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ParseOptions(**options)


def test_an_unknown_format_is_a_permanent_error_naming_the_path() -> None:
    with pytest.raises(PermanentError, match=r"unknown format 'pdf' for '/x/a\.pdf'"):
        parse_text("x", source_path="/x/a.pdf", fmt="pdf", checksum="x", options=ParseOptions())
