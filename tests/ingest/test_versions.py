"""Collections and versions (issue 18.3): one tree ingested as two versions is two sets of
documents; search reads one version, a prefix, every version, or each collection's newest."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingestq.ingest.files import job_spec, labels_of, payload_labels, unchanged_files
from ingestq.ingest.parsing.identity import Labels, document_id_for
from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.scope import SelectionError, select
from ingestq.ingest.search import search
from ingestq.ingest.settings import PipelineSettings
from ingestq.ingest.verify import verify

from .conftest import GUIDE

V1, V2 = Labels("demo", "1.0"), Labels("demo", "2.0")
EDITED = GUIDE.replace("set up the zanzibar toolkit", "set up the wombat toolkit")


def texts(pipeline: Pipeline, query: str, **selection: str) -> list[tuple[str, str, str]]:
    """(version, heading, snippet) of each hit."""
    return [(r.version, r.heading_path[-1], r.snippet)
            for r in search(pipeline, query, 10, **selection)]


@pytest.fixture
def two_versions(pipeline: Pipeline, docs: Path) -> Pipeline:
    """The docs ingested as demo 1.0, then with one section changed as demo 2.0."""
    for name in ("guide.md", "other.md"):
        pipeline.ingest_file(str(docs / name), labels=V1)
    (docs / "guide.md").write_text(EDITED)
    for name in ("guide.md", "other.md"):
        pipeline.ingest_file(str(docs / name), labels=V2)
    return pipeline


def test_each_version_answers_with_its_own_text_and_no_version_with_the_newest(two_versions):
    p = two_versions
    assert p.manifest.stats()["documents"] == 4
    old = texts(p, "zanzibar toolkit", version="1.0")
    assert old and all(v == "1.0" for v, _, _ in old)
    assert any("zanzibar" in s for _, _, s in old)
    assert not any("wombat" in s for _, _, s in texts(p, "wombat", version="1.0"))
    new = texts(p, "wombat toolkit", version="2.0")
    assert new and all(v == "2.0" for v, _, _ in new) and "wombat" in new[0][2]
    assert not any("zanzibar" in s for _, _, s in texts(p, "zanzibar", version="2.0"))
    # No version: the newest of the collection, and only it (k is exact, not a filtered rest).
    assert texts(p, "wombat toolkit") == new
    assert {v for v, _, _ in texts(p, "worker lease reaper")} == {"2.0"}
    assert {r.collection for r in search(p, "toolkit", 10)} == {"demo"}


def test_a_prefix_or_a_star_reads_several_versions_and_unknown_labels_read_nothing(two_versions):
    p = two_versions
    assert {v for v, _, _ in texts(p, "worker lease", version="1.*")} == {"1.0"}
    assert {v for v, _, _ in texts(p, "worker lease", version="*")} == {"1.0", "2.0"}
    assert texts(p, "worker lease", collection="other") == []
    assert texts(p, "worker lease", version="3.0") == []
    assert {v for v, _, _ in texts(p, "worker lease", collection="demo", version="1.0")} == \
        {"1.0"}
    with pytest.raises(SelectionError, match="reserved"):
        search(p, "worker", 5, version="1*0")


def test_reingesting_one_version_never_touches_the_other(two_versions, docs):
    p = two_versions
    v2_id = document_id_for(docs / "guide.md", V2)
    before = p.manifest.manifest(v2_id)
    stamp = p.manifest.conn.execute("SELECT ingested_at FROM documents WHERE id = ?",
                                    (v2_id,)).fetchone()
    # Version 1.0 again, from the edited file: it changes, 2.0 does not.
    outcome = p.ingest_file(str(docs / "guide.md"), labels=V1)
    assert outcome.status == "written" and outcome.sections_updated == 1
    assert outcome.document_id == document_id_for(docs / "guide.md", V1) != v2_id
    assert p.manifest.manifest(v2_id) == before
    assert p.manifest.conn.execute("SELECT ingested_at FROM documents WHERE id = ?",
                                   (v2_id,)).fetchone() == stamp
    # Re-ingesting the old version does not make it the newest: 2.0 was first seen last.
    assert {v for v, _, _ in texts(p, "worker lease reaper")} == {"2.0"}
    # Skip-unchanged is per version: 2.0 is unchanged, a third version is new.
    assert p.ingest_file(str(docs / "guide.md"), labels=V2).status == "skipped"
    assert p.ingest_file(str(docs / "guide.md"), labels=Labels("demo", "3")).status == "written"


def test_links_lead_to_the_page_of_the_same_version(two_versions, docs):
    p = two_versions
    for labels in (V1, V2):
        guide = document_id_for(docs / "guide.md", labels)
        targets = {str(dst) for (dst,) in p.manifest.conn.execute(
            "SELECT dst FROM edges WHERE document_id = ? AND kind = 'LINKS_TO'", (guide,))}
        assert targets == {document_id_for(docs / "other.md", labels)}


def test_job_keys_and_the_unchanged_check_are_per_version(two_versions, docs, tmp_path):
    p = two_versions
    path = str(docs / "guide.md")
    keys = {job_spec(path, content_checksum="c", labels=labels).dedupe_key
            for labels in (Labels(), V1, V2)}
    assert len(keys) == 3
    assert job_spec(path, content_checksum="c", labels=V2).payload == {
        "path": path, "collection": "demo", "version": "2.0"}
    from ingestq.ingest.files import checksum

    sums = {path: checksum(path)}
    data = tmp_path / "data"
    assert unchanged_files(sums, p.settings, data, {path: V2}) == {path}
    assert unchanged_files(sums, p.settings, data, {path: V1}) == set()  # 1.0 holds the old text
    assert unchanged_files(sums, p.settings, data) == set()  # never ingested without labels


def test_verify_keeps_each_version_and_never_rewrites_an_old_one_from_a_newer_file(
        tmp_path: Path, docs: Path):
    # The root is the tree at 2.0; 1.0 was ingested as a one-off before the file changed.
    settings = PipelineSettings(roots=[{"path": str(docs), "collection": "demo",
                                        "version": "2.0"}])  # type: ignore[list-item]
    p = Pipeline.open(settings, tmp_path / "data3")
    try:
        (docs / "gone.md").write_text("# Gone\n\nA page 2.0 dropped.\n")
        for name in ("guide.md", "gone.md"):
            p.ingest_file(str(docs / name), labels=V1)
        (docs / "guide.md").write_text(EDITED)
        (docs / "gone.md").unlink()
        for name in ("guide.md", "other.md"):
            p.ingest_file(str(docs / name), labels=V2)
        report = verify(p, repair=True)
        assert report.ok, report.drift
        assert report.checked_documents == 4 and report.reingest == () and report.deleted == 0
        # A lost 2.0 page is re-ingested as 2.0; 1.0, whose file moved on, is left alone.
        p.manifest.delete_document(document_id_for(docs / "guide.md", V2))
        report = verify(p)
        assert [(d.kind, d.version) for d in report.drift] == [("missing", "2.0")]
        assert [(s.path, s.labels) for s in report.reingest] == [(str(docs / "guide.md"), V2)]
        assert p.manifest.stored_checksum(document_id_for(docs / "guide.md", V1)) is not None
    finally:
        p.close()


def test_roots_carry_labels_and_a_job_without_labels_takes_its_roots(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "a" / "b"
    settings = PipelineSettings(roots=[str(a), {"path": str(b), "collection": "lib",
                                                "version": "main"}])  # type: ignore[list-item]
    assert settings.root_paths == [str(a), str(b)]
    assert settings.labels_for(str(b / "x.md")) == Labels("lib", "main")  # innermost root
    assert settings.labels_for(str(a / "y.md")) == Labels()
    assert labels_of([str(b / "x.md")], settings, version="2") == {str(b / "x.md"):
                                                                    Labels("lib", "2")}
    assert payload_labels({"path": "p"}, str(b / "x.md"), settings) == Labels("lib", "main")
    assert payload_labels({"path": "p", "version": "7"}, str(b / "x.md"), settings) == \
        Labels("", "7")
    # Labels chosen at enqueue travel whole: an explicit "" stays "", never the root's.
    explicit = job_spec(str(b / "x.md"), content_checksum="c", labels=Labels()).payload
    assert explicit == {"path": str(b / "x.md"), "collection": "", "version": ""}
    assert payload_labels(explicit, str(b / "x.md"), settings) == Labels()
    assert "version" not in job_spec(str(b / "x.md"), content_checksum="c").payload
    with pytest.raises(ValidationError, match="more than once"):
        PipelineSettings(roots=[str(a), {"path": str(a), "version": "1"}])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="reserved"):
        PipelineSettings(roots=[{"path": str(a), "version": "1.*"}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="control character"):
        Labels("demo", "1\n")


def test_a_root_with_labels_ingests_under_them(tmp_path: Path, docs: Path):
    settings = PipelineSettings(roots=[{"path": str(docs), "collection": "guides",
                                        "version": "v7"}])  # type: ignore[list-item]
    opened = Pipeline.open(settings, tmp_path / "data2")
    try:
        path = str(docs / "guide.md")
        labels = payload_labels({"path": path}, path, settings)
        opened.ingest_file(path, labels=labels)
        [hit] = search(opened, "zanzibar", 1)
        assert (hit.collection, hit.version) == ("guides", "v7")
    finally:
        opened.close()


def test_newest_is_the_label_ingested_first_most_recently_not_the_largest_string():
    available = [(Labels("a", "10.0"), 1.0), (Labels("a", "9.0"), 2.0),
                 (Labels("b", "nightly"), 1.5), (Labels("b", "2024-06"), 0.5)]
    assert select(available, None, None) == {Labels("a", "9.0"), Labels("b", "nightly")}
    assert select(available, "a", None) == {Labels("a", "9.0")}
    assert select(available, None, "*") == {labels for labels, _ in available}
    assert select(available, None, "1*") == {Labels("a", "10.0")}


# -- a store written before labels ---------------------------------------------------------------

def _downgrade_to_schema_1(path: Path) -> None:
    """Make the file what a release before labels wrote: no label columns, no labels table."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        DROP INDEX documents_by_labels;
        DROP TABLE labels;
        ALTER TABLE documents DROP COLUMN collection;
        ALTER TABLE documents DROP COLUMN version;
        UPDATE meta SET value = '1' WHERE key = 'schema_version';
    """)
    conn.close()


@pytest.fixture
def old_store(tmp_path: Path, docs: Path) -> Iterator[tuple[PipelineSettings, Path]]:
    settings = PipelineSettings(roots=[str(docs)])
    data = tmp_path / "old"
    opened = Pipeline.open(settings, data)
    for name in ("guide.md", "other.md"):
        opened.ingest_file(str(docs / name))
    sqlite_path = opened.manifest.path
    opened.close()
    _downgrade_to_schema_1(sqlite_path)
    columns = {r[1] for r in sqlite3.connect(sqlite_path).execute("PRAGMA table_info(documents)")}
    assert "version" not in columns
    yield settings, data


def test_a_store_from_before_labels_is_migrated_and_answers_as_before(old_store, docs):
    settings, data = old_store
    opened = Pipeline.open(settings, data)
    try:
        conn = opened.manifest.conn
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == \
            ("2",)
        assert opened.manifest.document_labels() == {
            document_id_for(docs / "guide.md"): Labels(),
            document_id_for(docs / "other.md"): Labels()}
        [hit] = search(opened, "zanzibar", 1)
        assert (hit.collection, hit.version, hit.document_id) == (
            "", "", document_id_for(docs / "guide.md"))
        # Unchanged files stay unchanged: their ids are the ones they always had.
        assert opened.ingest_file(str(docs / "guide.md")).status == "skipped"
        # A labelled version next to them is a collection of its own; "" keeps answering.
        (docs / "guide.md").write_text(EDITED)
        opened.ingest_file(str(docs / "guide.md"), labels=V2)
        assert {(r.collection, r.version) for r in search(opened, "toolkit", 10)} == {
            ("", ""), ("demo", "2.0")}
        assert {r.version for r in search(opened, "toolkit", 10, collection="")} == {""}
    finally:
        opened.close()
