"""Verify: drift introduced in one store is reported for exactly that document and repaired."""

from __future__ import annotations

from ingestq.ingest.verify import delete_extras, verify


def ingest_all(pipeline, docs):
    for name in ("guide.md", "other.md"):
        pipeline.ingest_file(str(docs / name))


def test_a_store_matching_its_sources_has_no_drift(pipeline, docs):
    ingest_all(pipeline, docs)
    report = verify(pipeline)
    assert report.ok and report.checked_documents == 2
    assert report.reingest_paths == () and report.delete_ids == ()


def test_rows_deleted_from_the_store_are_stale_and_name_only_that_document(pipeline, docs):
    ingest_all(pipeline, docs)
    with pipeline.manifest.lock:
        pipeline.manifest.conn.execute(
            "DELETE FROM chunks WHERE document_id IN "
            "(SELECT id FROM documents WHERE source_path LIKE '%other.md')"
        )
    report = verify(pipeline)
    assert [(d.store, d.kind) for d in report.drift] == [("sqlite", "stale")]
    assert "2 chunks missing" in report.drift[0].detail
    assert report.reingest_paths == (str(docs / "other.md"),)


def test_a_forced_reingest_of_the_repair_list_clears_the_drift(pipeline, docs):
    ingest_all(pipeline, docs)
    with pipeline.manifest.lock:
        pipeline.manifest.conn.execute("DELETE FROM sections WHERE title = 'Recovery'")
    for path in verify(pipeline).reingest_paths:
        pipeline.ingest_file(path, force=True)
    assert verify(pipeline).ok


def test_an_edited_file_is_stale_until_it_is_ingested_again(pipeline, docs):
    ingest_all(pipeline, docs)
    (docs / "guide.md").write_text((docs / "guide.md").read_text() + "\n## New part\n\nText.\n")
    report = verify(pipeline)
    assert report.reingest_paths == (str(docs / "guide.md"),)
    assert "checksum differs" in report.drift[0].detail


def test_a_document_whose_file_is_gone_is_extra_and_repair_deletes_it(pipeline, docs):
    ingest_all(pipeline, docs)
    gone_id = pipeline.ingest_file(str(docs / "other.md")).document_id
    (docs / "other.md").unlink()
    report = verify(pipeline, repair=True)
    assert report.delete_ids == (gone_id,) and report.deleted == 1
    assert gone_id not in pipeline.manifest.document_ids()
    assert verify(pipeline).ok


def test_a_file_under_the_roots_never_ingested_is_missing(pipeline, docs):
    pipeline.ingest_file(str(docs / "guide.md"))
    report = verify(pipeline)
    assert [(d.kind, d.source_path) for d in report.drift] == [("missing", str(docs / "other.md"))]


def test_delete_extras_reports_only_documents_that_existed(pipeline, docs):
    ingest_all(pipeline, docs)
    doc_id = pipeline.ingest_file(str(docs / "guide.md")).document_id
    assert delete_extras(pipeline, [doc_id, "0" * 32]) == 1
