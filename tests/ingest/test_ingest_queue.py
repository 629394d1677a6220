"""File jobs through real worker processes: corpus sample, edits, bad input, crashes, duplicates."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest
from redis import Redis
from support.corpus import FASTAPI_DOCS
from support.procs import env_for, ingestctl, stop, wait_for
from support.settings import fast_settings

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.job import JobState
from ingestq.core.queue import Queue
from ingestq.ingest.files import expand, job_spec

pytestmark = pytest.mark.slow  # every test here starts real processes

CORPUS = FASTAPI_DOCS
SAMPLE = ["en/tutorial", "ja/tutorial/first-steps.md", "ru/index.md"]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A copy of a corpus sample (tests edit files; the corpus itself is never touched)."""
    root = tmp_path / "docs"
    for rel in SAMPLE:
        src = CORPUS / rel
        dst = root / rel
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dst)
    return root


@pytest.fixture
def ingest_env(base_settings: IngestSettings, tmp_path: Path) -> tuple[IngestSettings,
                                                                        dict[str, str], Path]:
    settings = fast_settings(base_settings)
    db = tmp_path / "store.sqlite3"
    env = env_for(settings, pipeline__store__sqlite_path=str(db))
    return settings, env, db


def run_burst(env: dict[str, str], tmp_path: Path, *args: str) -> None:
    w = ingestctl(env, "worker", "--burst", *args, log=tmp_path / "burst.log")
    assert w.wait(180) == 0, (tmp_path / "burst.log").read_text()[-3000:]


def rows(db: Path, table: str) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute(f"SELECT id, content_hash FROM {table}").fetchall())


def test_sample_is_ingested_and_an_edit_rewrites_exactly_its_section(
        client: Redis, ingest_env: tuple[IngestSettings, dict[str, str], Path], docs: Path,
        tmp_path: Path) -> None:
    settings, env, db = ingest_env
    q = Queue(client, settings)
    files = expand([str(docs)]).files
    q.enqueue_many([job_spec(f) for f in files])
    run_burst(env, tmp_path)
    assert queries.counts(q)["done"] == len(files) and queries.counts(q)["dead"] == 0
    sections_before, chunks_before = rows(db, "sections"), rows(db, "chunks")
    assert len(sections_before) > 50

    target = docs / "en/tutorial/first-steps.md"
    text = target.read_text()
    marker = "## Recap { #recap }\n"
    assert text.count(marker) == 1
    target.write_text(text.replace(marker, marker + "\nA brand new zebra sentence.\n", 1))
    q.enqueue_many([job_spec(f) for f in files])  # every file again: only one changed
    run_burst(env, tmp_path)
    sections_after, chunks_after = rows(db, "sections"), rows(db, "chunks")
    changed = {i for i in sections_after if sections_before.get(i) != sections_after[i]}
    assert len(changed) == 1 and set(sections_after) == set(sections_before)
    assert len({i for i in chunks_after if chunks_before.get(i) != chunks_after[i]}) >= 1
    done = queries.list_jobs(q, JobState.DONE, limit=1000)
    skipped = [j for j in done if j.result and j.result["status"] == "skipped"]
    assert len(skipped) == len(files) - 1  # the unchanged ones, second round


def test_duplicate_delivery_leaves_the_store_as_one_run(
        client: Redis, ingest_env: tuple[IngestSettings, dict[str, str], Path], docs: Path,
        tmp_path: Path) -> None:
    settings, env, db = ingest_env
    q = Queue(client, settings)
    path = str(docs / "en/tutorial/first-steps.md")
    q.enqueue("file", {"path": path})
    run_burst(env, tmp_path)
    once = (rows(db, "sections"), rows(db, "chunks"))
    q.enqueue("file", {"path": path, "force": True})  # a redelivery that really runs again
    run_burst(env, tmp_path)
    assert (rows(db, "sections"), rows(db, "chunks")) == once


def test_bad_input_ends_dead_with_a_clear_reason_and_the_worker_survives(
        client: Redis, ingest_env: tuple[IngestSettings, dict[str, str], Path],
        tmp_path: Path) -> None:
    settings, env, _ = ingest_env
    q = Queue(client, settings)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binary.md").write_bytes(b"\x00\x01\x02" * 100)
    (bad / "empty.md").write_text("")
    (bad / "loop.md").symlink_to(bad / "loop.md")
    (bad / "gone.md").write_text("# soon gone\n")
    cases = {
        "missing": str(bad / "nope.md"), "directory": str(bad), "binary": str(bad / "binary.md"),
        "empty": str(bad / "empty.md"), "loop": str(bad / "loop.md"),
        "gone": str(bad / "gone.md")}
    ids = {name: q.enqueue("file", {"path": p}).id for name, p in cases.items()}
    q.enqueue("file", {"nopath": 1})
    os.unlink(bad / "gone.md")  # deleted between enqueue and processing
    w = ingestctl(env, "worker", log=tmp_path / "w.log")
    try:
        wait_for(lambda: queries.counts(q)["dead"] == len(cases) + 1, 60, "all dead")
        for name, job_id in ids.items():
            job = queries.get_job(q, job_id)
            assert job.dead_reason == "permanent", (name, job.last_error)
            assert job.last_error and cases[name].split("/")[-1] in job.last_error, name
        assert w.poll() is None
    finally:
        w.send_signal(signal.SIGTERM)
        assert w.wait(30) == 0


def test_worker_killed_mid_document_leaves_it_complete_after_recovery(
        client: Redis, ingest_env: tuple[IngestSettings, dict[str, str], Path],
        tmp_path: Path) -> None:
    settings, env, db = ingest_env
    # 9 MB, over the 8 MiB default: slow enough to be killed mid-document
    env = {**env, "INGESTQ_PIPELINE__MAX_FILE_BYTES": str(16 * 1024 * 1024)}
    q = Queue(client, settings)
    big = tmp_path / "big.md"
    big.write_text("".join(f"## Part {i}\n\n" + ("word " * 400 + "\n\n") * 3
                           for i in range(1500)))
    job_id = q.enqueue("file", {"path": str(big)}).id
    victim = ingestctl(env, "worker", "--no-reaper", log=tmp_path / "victim.log")
    try:
        wait_for(lambda: queries.get_job(q, job_id).state is JobState.PROCESSING, 30, "claim")
        victim.send_signal(signal.SIGKILL)
    finally:
        stop(victim)
    run_burst(env, tmp_path)
    job = queries.get_job(q, job_id)
    assert job.state is JobState.DONE and job.crash_recoveries == 1
    with sqlite3.connect(db) as conn:
        (sections,) = conn.execute("SELECT COUNT(*) FROM sections").fetchone()
        (docs,) = conn.execute("SELECT COUNT(*) FROM documents").fetchone()
    assert docs == 1 and sections == 1500


def test_search_finds_ingested_text_and_verify_repairs_drift(
        client: Redis, ingest_env: tuple[IngestSettings, dict[str, str], Path], docs: Path,
        tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    settings, env, db = ingest_env
    q = Queue(client, settings)
    files = expand([str(docs / "en")]).files
    q.enqueue_many([job_spec(f) for f in files])
    run_burst(env, tmp_path)

    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ingestq.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    found = ctl("search", "background tasks after returning a response", "--json")
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)
    assert results and results[0]["source_path"].endswith("background-tasks.md")
    assert ctl("verify").returncode == 0

    victim = str(docs / "en/tutorial/body.md")
    with sqlite3.connect(db) as conn:
        (doc_id,) = conn.execute("SELECT id FROM documents WHERE source_path = ?",
                                 (victim,)).fetchone()
        conn.execute("DELETE FROM sections WHERE document_id = ? AND rowid IN (SELECT rowid "
                     "FROM sections WHERE document_id = ? LIMIT 2)", (doc_id, doc_id))
    drift = ctl("verify", "--json")
    assert drift.returncode == 1
    report = json.loads(drift.stdout)
    assert report["reingest_paths"] == [victim]
    repaired = ctl("verify", "--repair", "--json")
    assert len(json.loads(repaired.stdout)["enqueued"]) == 1
    run_burst(env, tmp_path)
    assert ctl("verify").returncode == 0


def test_ingest_enqueues_only_changed_files_and_force_enqueues_all(
        client: Redis, ingest_env: tuple[IngestSettings, dict[str, str], Path], docs: Path,
        tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    _, env, _ = ingest_env
    files = expand([str(docs)]).files

    def ingest(*args: str) -> dict[str, object]:
        done = subprocess.run([sys.executable, "-m", "ingestq.cli", "ingest", str(docs),
                               "--json", *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        summary: dict[str, object] = json.loads(done.stdout)
        return summary

    first = ingest()
    assert (first["enqueued"], first["unchanged"]) == (len(files), 0)
    run_burst(env, tmp_path)
    again = ingest("--wait")  # nothing enqueued: returns at once, no worker needed
    assert (again["enqueued"], again["unchanged"], again["job_ids"]) == (0, len(files), [])
    assert (again["done"], again["dead"]) == (0, 0)

    target = docs / "en/tutorial/first-steps.md"
    target.write_text(target.read_text() + "\nA brand new zebra sentence.\n")
    edited = ingest()
    assert (edited["enqueued"], edited["unchanged"]) == (1, len(files) - 1)
    run_burst(env, tmp_path)
    forced = ingest("--force")
    assert (forced["enqueued"], forced["unchanged"]) == (len(files), 0)
