"""The server stack with Qdrant's local mode: deterministic points, filtered deletes, verify."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("qdrant_client")
from qdrant_client import models

from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.search import search
from ingestq.ingest.settings import PipelineSettings, StoreSettings
from ingestq.ingest.stores.qdrant import POINT_NAMESPACE, QdrantStore, point_id
from ingestq.ingest.verify import verify

from .conftest import GUIDE


@pytest.fixture
def server(tmp_path: Path, docs: Path) -> Iterator[Pipeline]:
    store = StoreSettings(kind="server", qdrant_path=str(tmp_path / "qdrant"))
    opened = Pipeline.open(PipelineSettings(roots=[str(docs)], store=store), tmp_path / "data")
    yield opened
    opened.close()


def qdrant(pipeline: Pipeline) -> QdrantStore:
    assert pipeline.vector_store is not None
    return pipeline.vector_store


def count(pipeline: Pipeline, **match: str) -> int:
    conditions = [
        models.FieldCondition(key=k, match=models.MatchValue(value=v)) for k, v in match.items()
    ]
    store = qdrant(pipeline)
    flt = models.Filter(must=conditions) if conditions else None
    return store.client.count(store.collection, count_filter=flt, exact=True).count


def test_each_chunk_is_one_point_whose_id_is_uuid5_of_the_chunk_id(server, docs):
    outcome = server.ingest_file(str(docs / "guide.md"))
    store = qdrant(server)
    chunk_ids = list(server.manifest.manifest(outcome.document_id).chunks)
    points = store.client.retrieve(store.collection, [point_id(c) for c in chunk_ids])
    assert len(points) == len(chunk_ids) == count(server)
    assert {p.id for p in points} == {str(uuid.uuid5(POINT_NAMESPACE, c)) for c in chunk_ids}
    payload = points[0].payload
    assert payload["document_id"] == outcome.document_id
    assert payload["embedding_model"] == server.embedder.name
    assert set(payload) >= {"source_path", "title", "heading_path", "anchor", "section_id"}


def test_the_manifest_database_keeps_no_vectors_on_the_server_stack(server, docs):
    server.ingest_file(str(docs / "guide.md"))
    stats = server.manifest.stats()
    assert stats["chunks"] == 4 and stats["vectors"] == 0


def test_a_forced_rewrite_of_an_unchanged_document_upserts_no_point(server, docs):
    server.ingest_file(str(docs / "guide.md"))
    outcome = server.ingest_file(str(docs / "guide.md"), force=True)
    qdrant_result = outcome.store_results[0]
    assert qdrant_result.store == "qdrant" and not qdrant_result.changed


def test_a_removed_section_deletes_exactly_its_points_by_filter(server, docs):
    first = server.ingest_file(str(docs / "guide.md"))
    server.ingest_file(str(docs / "other.md"))
    sections = server.manifest.manifest(first.document_id).sections
    details = next(
        sid
        for sid in sections
        if server.manifest.conn.execute(
            "SELECT title FROM sections WHERE id = ?", (sid,)
        ).fetchone()[0]
        == "Details"
    )
    assert count(server, section_id=details) == 1
    (docs / "guide.md").write_text(GUIDE.split("### Details")[0])
    outcome = server.ingest_file(str(docs / "guide.md"))
    assert outcome.store_results[0].chunks_deleted == 1
    assert count(server, section_id=details) == 0
    assert count(server, document_id=first.document_id) == 3
    assert count(server) == 3 + 2  # the other document's points are untouched


def test_verify_names_the_document_whose_points_were_deleted_and_force_repairs_it(server, docs):
    server.ingest_file(str(docs / "guide.md"))
    lost = server.ingest_file(str(docs / "other.md")).document_id
    store = qdrant(server)
    store.client.delete(
        store.collection,
        points_selector=models.FilterSelector(
            filter=models.Filter(
                must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=lost))]
            )
        ),
    )
    report = verify(server)
    assert [(d.store, d.kind, d.document_id) for d in report.drift] == [("qdrant", "missing", lost)]
    assert report.reingest_paths == (str(docs / "other.md"),)
    for path in report.reingest_paths:
        server.ingest_file(path, force=True)
    assert verify(server).ok


def test_server_search_finds_a_section_through_qdrant_and_fts(server, docs):
    server.ingest_file(str(docs / "guide.md"))
    server.ingest_file(str(docs / "other.md"))
    top = search(server, "worker process dies lease expires", k=2)[0]
    assert top.heading_path == ("Other page", "Recovery")
    assert top.context == {}  # no Neo4j configured


def test_labels_are_payload_and_search_filters_on_them_inside_qdrant(server, docs):
    from ingestq.ingest.parsing.identity import Labels

    v1, v2 = Labels("demo", "1.0"), Labels("demo", "2.0")
    first = server.ingest_file(str(docs / "guide.md"), labels=v1)
    (docs / "guide.md").write_text(GUIDE.replace("zanzibar", "wombat"))
    second = server.ingest_file(str(docs / "guide.md"), labels=v2)
    assert first.document_id != second.document_id
    assert count(server, version="1.0") == count(server, document_id=first.document_id) > 0
    assert count(server, collection="demo") == count(server)
    store = qdrant(server)
    vector = server.embedder.embed(["wombat toolkit install"])[0]
    for labels in (v1, v2):
        found = store.search(vector, 50, frozenset({labels}))
        assert found and {p["version"] for _, _, p in found} == {labels.version}
    assert {p["version"] for _, _, p in store.search(vector, 50)} == {"1.0", "2.0"}
    # Through search with vectors only: Qdrant's filter is what keeps 2.0 out.
    hits = search(server, "wombat toolkit", 5, vector_weight=1.0, version="1.0")
    assert hits and {h.version for h in hits} == {"1.0"}
    assert all("wombat" not in h.snippet for h in hits)


def test_points_written_before_labels_count_as_unlabelled(server, docs):
    from ingestq.ingest.parsing.identity import Labels

    outcome = server.ingest_file(str(docs / "other.md"))
    store = qdrant(server)
    store.client.delete_payload(store.collection, keys=["collection", "version"],
                                points=models.Filter(must=[models.FieldCondition(
                                    key="document_id",
                                    match=models.MatchValue(value=outcome.document_id))]))
    assert count(server, version="") == 0  # the keys are gone, as in an old collection
    server.ingest_file(str(docs / "guide.md"), labels=Labels("demo", "1.0"))
    vector = server.embedder.embed(["worker lease"])[0]
    old = store.search(vector, 50, frozenset({Labels()}))
    assert old and {p["document_id"] for _, _, p in old} == {outcome.document_id}
