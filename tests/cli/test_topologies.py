"""The operator's commands on every topology: one server, Sentinel, Cluster (and with WAIT)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redis import Redis

from ingestq.config import IngestSettings
from ingestq.core import queries as reads
from ingestq.core.queue import Queue

from .conftest import Invoke, parse, run_ingestctl


@pytest.mark.topologies
def test_enqueue_status_jobs_doctor_and_dead_commands_work_on_every_topology(
        invoke: Invoke, settings: IngestSettings, client: Redis) -> None:
    assert invoke("enqueue", "noop", "--payload", '{"a": 1}', "--count", "3").exit_code == 0
    status = parse(invoke("status", "--json"))
    assert status["counts"]["pending"] == 3
    assert len(parse(invoke("jobs", "list", "--json"))) == 3
    doctor = invoke("doctor", "--json")
    assert doctor.exit_code in (0, 1), doctor.stdout  # 1: a finding (no persistence here)
    assert json.loads(doctor.stdout)
    q = Queue(client, settings)
    job = q.claim("w", 1).jobs[0]
    q.fail(job.id, job.token, {"type": "E", "message": "m", "traceback": ""}, mode="permanent")
    assert [d["id"] for d in parse(invoke("dead", "list", "--json"))] == [job.id]
    assert invoke("dead", "retry", job.id).exit_code == 0
    assert reads.counts(q)["dead"] == 0


# a worker process per topology is seconds each: the two replicated ones (the single server's
# ingestion is covered by tests/ingest)
@pytest.mark.slow
@pytest.mark.parametrize("topology", ["sentinel", "cluster-acked"], indirect=True)
def test_files_ingested_through_a_worker_process_land_in_the_store_on_every_topology(
        invoke: Invoke, settings: IngestSettings, client: Redis, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(2):
        (docs / f"page{i}.md").write_text(f"# Page {i}\n\nThe queue runs on replicas {i}.\n")
    env = {"pipeline__store__sqlite_path": str(tmp_path / "ingest.sqlite3")}
    # (on the embedded default with no worker alive, ingest runs the jobs itself)
    assert invoke("ingest", str(docs), "--json", **env).exit_code == 0
    done = run_ingestctl(settings, "worker", "--burst", "--kinds", "file", timeout=60, **env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert reads.counts(Queue(client, settings))["done"] == 2
