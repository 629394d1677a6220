"""The SQLite store: idempotent diff writes, deletes reaching FTS and vectors, multi-process."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from ingestq.ingest.embedders import HashingEmbedder
from ingestq.ingest.parsing.model import Document
from ingestq.ingest.parsing.parse import ParseOptions, parse_file
from ingestq.ingest.stores.sqlite import SQLiteStore

GUIDE = """# Guide

Intro text about the guide.

## Install

Run pip install to set up the zanzibar toolkit.

## Usage

Call the function with care. See [the other page](other.md).

### Details

Deep details about quokka handling.
"""

EMBEDDER = HashingEmbedder()


def parse(path: Path) -> Document:
    return parse_file(path, ParseOptions())


def write(store: SQLiteStore, doc: Document, force: bool = False):
    vectors = EMBEDDER.embed([c.text for c in doc.chunks])
    return store.write_document(doc, vectors, EMBEDDER.name, force=force)


def dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in a stable order."""
    conn = sqlite3.connect(db)
    tables = ["documents", "sections", "chunks", "edges", "embedding_cache", "meta"]
    rows = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    rows["chunks_fts"] = conn.execute("SELECT rowid, * FROM chunks_fts ORDER BY rowid").fetchall()
    conn.close()
    return rows


@pytest.fixture
def store(tmp_path: Path):
    opened = SQLiteStore(tmp_path / "ingest.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def guide(tmp_path: Path) -> Path:
    path = tmp_path / "docs" / "guide.md"
    path.parent.mkdir()
    path.write_text(GUIDE)
    return path


def test_writing_the_same_document_twice_leaves_identical_rows(store, guide):
    doc = parse(guide)
    first = write(store, doc)
    before = dump(store.path)
    second = write(store, doc)
    assert first.sections_added == len(doc.sections) and first.chunks_written == len(doc.chunks)
    assert second.skipped_reason == "unchanged"
    assert dump(store.path) == before


def test_a_forced_rewrite_of_identical_content_changes_no_row(store, guide):
    doc = parse(guide)
    write(store, doc)
    before = dump(store.path)
    result = write(store, doc, force=True)
    assert not result.changed and result.sections_unchanged == len(doc.sections)
    assert dump(store.path) == before


def test_editing_one_section_rewrites_exactly_that_section_and_its_chunks(store, guide):
    write(store, parse(guide))
    guide.write_text(GUIDE.replace("with care", "with great care"))
    edited = parse(guide)
    result = write(store, edited)
    usage = next(s for s in edited.sections if s.title == "Usage")
    assert (result.sections_added, result.sections_updated, result.sections_deleted) == (0, 1, 0)
    assert result.chunks_written == sum(1 for c in edited.chunks if c.section_id == usage.id)
    assert store.manifest(edited.id).sections[usage.id] == usage.content_hash


def test_a_removed_section_is_deleted_with_its_chunks_fts_rows_vectors_and_edges(store, guide):
    first = parse(guide)
    write(store, first)
    details = next(s for s in first.sections if s.title == "Details")
    guide.write_text(GUIDE.split("### Details")[0])
    result = write(store, parse(guide))
    assert result.sections_deleted == 1 and result.chunks_deleted == 1
    conn = store.conn
    assert (
        conn.execute("SELECT COUNT(*) FROM sections WHERE id = ?", (details.id,)).fetchone()[0] == 0
    )
    assert (
        conn.execute("SELECT COUNT(*) FROM chunks WHERE section_id = ?", (details.id,)).fetchone()[
            0
        ]
        == 0
    )
    assert (
        conn.execute(
            "SELECT COUNT(*) FROM edges WHERE src = ? OR dst = ?", (details.id, details.id)
        ).fetchone()[0]
        == 0
    )
    assert store.lexical('"quokka"', 5) == []
    stats = store.stats()
    assert stats["fts_rows"] == stats["chunks"] == stats["vectors"] == 3


def test_edges_link_document_sections_parents_successors_and_link_targets(store, guide):
    doc = parse(guide)
    write(store, doc)
    kinds = dict(store.conn.execute("SELECT kind, COUNT(*) FROM edges GROUP BY kind").fetchall())
    assert kinds == {"HAS_SECTION": 4, "PARENT_OF": 3, "NEXT": 3, "LINKS_TO": 1}


def test_deleting_a_document_removes_every_row_of_it(store, guide):
    doc = parse(guide)
    write(store, doc)
    assert store.delete_document(doc.id) is True
    stats = store.stats()
    assert {k: v for k, v in stats.items() if k != "cached_embeddings"} == dict.fromkeys(
        ["documents", "sections", "chunks", "vectors", "edges", "fts_rows"], 0
    )
    assert store.delete_document(doc.id) is False


def test_stored_vectors_are_the_given_float32_rows(store, guide):
    doc = parse(guide)
    write(store, doc)
    ids, matrix = store.vectors(EMBEDDER.name)
    expected = EMBEDDER.embed([c.text for c in doc.chunks])
    by_id = dict(zip(ids, matrix, strict=True))
    assert all(np.array_equal(by_id[c.id], expected[i]) for i, c in enumerate(doc.chunks))


def _write_many(db: str, folder: str, prefix: str, count: int) -> None:
    store = SQLiteStore(Path(db))
    for n in range(count):
        path = Path(folder) / f"{prefix}-{n}.md"
        path.write_text(f"# {prefix} {n}\n\nBody {n} of {prefix}.\n\n## Part\n\nMore words {n}.\n")
        write(store, parse(path))
    store.close()


def test_two_processes_write_different_documents_to_one_file_at_once(tmp_path):
    db = str(tmp_path / "shared.sqlite3")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_write_many, args=(db, str(tmp_path), name, 40))
        for name in ("alpha", "beta")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    store = SQLiteStore(Path(db))
    assert store.stats()["documents"] == 80 and store.stats()["sections"] == 160
    store.close()
