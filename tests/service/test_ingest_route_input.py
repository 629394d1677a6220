"""POST /ingest with hostile input: FIFOs, NUL bytes and globs get answers, never a hang or 500."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.auth import AUTH
from support.bounded import within

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.queue import Queue
from ingestq.service.app import create_app


def roots_app(svc_queue: Queue, root: Path) -> TestClient:
    s: IngestSettings = svc_queue.settings
    pipeline = s.pipeline.model_copy(update={"roots": [str(root)]})
    return TestClient(create_app(Queue(svc_queue.client, s.model_copy(
        update={"pipeline": pipeline}))), raise_server_exceptions=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\ntext\n")
    return docs


def test_fifos_named_in_post_ingest_do_not_hold_request_threads(svc_queue: Queue,
                                                                root: Path) -> None:
    fifo = root / "x.md"
    os.mkfifo(fifo)
    with roots_app(svc_queue, root) as c:
        # More requests than the thread pool has threads (40): none may stay blocked.
        for _ in range(45):
            res = within(10, lambda: c.post("/ingest", json={"paths": [str(fifo)]},
                                            headers=AUTH))
            assert res.status_code == 202
        assert within(10, lambda: c.get("/healthz")).status_code == 200


@pytest.mark.parametrize("body", [
    {"paths": ["/tmp/a\x00b.md"]},
    {"paths": ["ROOT"], "glob": "/etc/*"},
    {"paths": ["ROOT"], "glob": "../../etc/*"},
    {"paths": ["ROOT"], "glob": "*.md\x00"},
])
def test_nul_bytes_and_escaping_globs_are_422(svc_queue: Queue, root: Path,
                                              body: dict[str, object]) -> None:
    paths = [str(root) if p == "ROOT" else p for p in body["paths"]]  # type: ignore[attr-defined]
    with roots_app(svc_queue, root) as c:
        res = c.post("/ingest", json={**body, "paths": paths}, headers=AUTH)
    assert res.status_code == 422, res.text
    assert queries.counts(svc_queue)["pending"] == 0


def test_a_glob_of_outside_files_enqueues_nothing(svc_queue: Queue, root: Path) -> None:
    with roots_app(svc_queue, root) as c:
        res = c.post("/ingest", json={"paths": ["/etc/*"]}, headers=AUTH)
    assert res.status_code == 403
    assert queries.counts(svc_queue)["pending"] == 0


def test_post_ingest_labels_the_jobs_and_refuses_labels_that_could_not_be_selected(
        svc_queue: Queue, root: Path) -> None:
    with roots_app(svc_queue, root) as c:
        res = c.post("/ingest", json={"paths": [str(root)], "collection": "demo",
                                      "version": "2.0"}, headers=AUTH)
        assert res.status_code == 202, res.text
        [job] = res.json()["jobs"]
        payload = queries.get_job(svc_queue, job["id"]).payload
        # `_trace` joins it when an earlier test in this process left tracing on: not ours here
        assert {k: v for k, v in payload.items() if k != "_trace"} == {
            "path": str(root / "a.md"), "collection": "demo", "version": "2.0"}
        # The same file as another version is another job, not the live one again.
        other = c.post("/ingest", json={"paths": [str(root)], "version": "3"}, headers=AUTH)
        assert other.json()["jobs"][0]["created"] is True
        for bad in ({"version": "2.*"}, {"collection": "a\tb"}):
            res = c.post("/ingest", json={"paths": [str(root)], **bad}, headers=AUTH)
            assert res.status_code == 422, res.text
    assert queries.counts(svc_queue)["pending"] == 2
