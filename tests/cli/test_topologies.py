"""The operator's commands on every topology: one server, Sentinel, Cluster (and with WAIT)."""

from __future__ import annotations

import json

import pytest
from redis import Redis

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.queue import Queue

from .conftest import Invoke, parse


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
    assert queries.counts(q)["dead"] == 0


# Ingestion through `ingestctl ingest` and worker processes, search, MCP and /metrics on
# Sentinel and Cluster: tests/mcp_server/test_topologies.py.
