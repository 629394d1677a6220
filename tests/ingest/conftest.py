"""Fixtures of the ingestion tests: a docs folder and a pipeline on a fresh data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.settings import PipelineSettings

GUIDE = """# Guide

Intro text about the guide.

## Install

Run pip install to set up the zanzibar toolkit.

## Usage

Call the function with care. See [the other page](other.md).

### Details

Deep details about quokka handling.
"""

OTHER = """# Other page

Workers claim jobs from the pending list and hold a lease while they run.

## Recovery

When a worker process dies its lease expires and the reaper puts the job back.
"""


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A folder with two linked Markdown pages."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "guide.md").write_text(GUIDE)
    (folder / "other.md").write_text(OTHER)
    return folder


@pytest.fixture
def pipeline(tmp_path: Path, docs: Path) -> Iterator[Pipeline]:
    """A pipeline with the default settings (hashing embedder, SQLite store) and the docs root."""
    settings = PipelineSettings(roots=[str(docs)])
    opened = Pipeline.open(settings, tmp_path / "data")
    yield opened
    opened.close()
