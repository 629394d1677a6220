"""The Neo4j store against a real server; skipped where none runs (set NEO4J_URI to run it)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

if not os.environ.get("NEO4J_URI"):
    pytest.skip("no Neo4j server: set NEO4J_URI", allow_module_level=True)

from ingestq.ingest.embedders import HashingEmbedder
from ingestq.ingest.parsing.parse import ParseOptions, parse_file
from ingestq.ingest.settings import StoreSettings
from ingestq.ingest.stores.base import manifest_of
from ingestq.ingest.stores.neo4j import Neo4jStore

from .conftest import GUIDE

EMBEDDER = HashingEmbedder()


@pytest.fixture
def graph() -> Iterator[Neo4jStore]:
    store = Neo4jStore.from_settings(StoreSettings(neo4j_uri=os.environ["NEO4J_URI"]))
    yield store
    store.close()


def write(graph: Neo4jStore, path: Path, force: bool = False):
    doc = parse_file(path, ParseOptions())
    vectors = EMBEDDER.embed([c.text for c in doc.chunks])
    return doc, graph.write_document(doc, vectors, EMBEDDER.name, force=force)


def test_a_document_is_written_once_and_skipped_when_unchanged(graph, docs):
    doc, first = write(graph, docs / "guide.md")
    try:
        _, second = write(graph, docs / "guide.md")
        assert first.sections_added == 4 and second.skipped_reason == "unchanged"
        assert graph.manifest(doc.id) == manifest_of(doc)
    finally:
        graph.delete_document(doc.id)


def test_a_removed_section_is_detach_deleted_and_its_neighbours_relinked(graph, docs):
    doc, _ = write(graph, docs / "guide.md")
    try:
        (docs / "guide.md").write_text(GUIDE.split("### Details")[0])
        edited, result = write(graph, docs / "guide.md")
        assert result.sections_deleted == 1 and result.chunks_deleted == 1
        assert graph.manifest(doc.id) == manifest_of(edited)
        usage = next(s for s in edited.sections if s.title == "Usage")
        assert graph.context(usage.id)["next_title"] is None
    finally:
        graph.delete_document(doc.id)
    assert graph.manifest(doc.id) is None


def test_two_versions_of_a_file_are_two_document_nodes_with_their_labels(graph, docs):
    from ingestq.ingest.parsing.identity import Labels

    docs_written = []
    try:
        for labels in (Labels("demo", "1.0"), Labels("demo", "2.0")):
            doc = parse_file(docs / "guide.md", ParseOptions(), labels)
            vectors = EMBEDDER.embed([c.text for c in doc.chunks])
            graph.write_document(doc, vectors, EMBEDDER.name)
            docs_written.append(doc)
        rows = graph._run("MATCH (d:Document) WHERE d.id IN $ids "
                          "RETURN d.collection AS c, d.version AS v ORDER BY v",
                          ids=[d.id for d in docs_written])
        assert [(r["c"], r["v"]) for r in rows] == [("demo", "1.0"), ("demo", "2.0")]
        assert graph.manifest(docs_written[0].id) == manifest_of(docs_written[0])
    finally:
        for doc in docs_written:
            graph.delete_document(doc.id)
