"""Plain text to Outline: the whole file is one level-0 section titled after the file stem."""

from __future__ import annotations

from ingestq.ingest.parsing.sections import Outline, RawSection


def parse_plain_text(text: str, source_path: str) -> Outline:
    """Parse plain text: one section holding all the text; the title comes from the file name."""
    del source_path  # the stem is the document title, which parse.py derives for every format
    return Outline(sections=[RawSection(level=0, title="", text=text)])
