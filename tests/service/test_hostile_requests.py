"""What an unauthenticated or hostile request can do: no unbounded series, memory or records."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from support.auth import AUTH

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.embedded import EmbeddedServer
from ingestq.core.queue import Queue
from ingestq.errors import PayloadError
from ingestq.service.app import create_app


def http_series(api: TestClient) -> int:
    text = api.get("/metrics").text
    return sum(1 for line in text.splitlines() if line.startswith("ingest_http_requests_total{"))


def test_made_up_methods_add_no_metric_series(api: TestClient) -> None:
    api.request("MADEUP", "/jobs")  # the series these requests may use, made once
    api.request("MADEUP", "/nowhere")
    http_series(api)
    before = http_series(api)
    for i in range(300):
        api.request(f"X{i}", "/jobs")
        api.request(f"Y{i}", f"/nowhere/{i}")
    assert http_series(api) == before
    assert 'method="other"' in api.get("/metrics").text


def test_count_times_payload_over_the_request_budget_is_413_and_enqueues_nothing(
        api: TestClient, svc_queue: Queue) -> None:
    res = api.post("/jobs", json={"kind": "noop", "payload": {"x": "y" * 3000},
                                  "count": 10_000}, headers=AUTH)
    assert res.status_code == 413 and "count x payload" in res.json()["error"]
    assert queries.counts(svc_queue)["pending"] == 0


@pytest.mark.parametrize("raw", [
    '{"kind": "noop", "delay_seconds": 1e14}',
    '{"kind": "noop", "delay_seconds": Infinity}',
    '{"kind": "noop", "delay_seconds": NaN}',
    '{"kind": "noop", "payload": {"x": "\\ud800"}}',
    '{"kind": "noop", "dedupe_key": "\\udfff"}',
    '{"kind": "noop", "max_retries": 100000000000000000000}',
])
def test_values_no_reader_could_read_back_are_refused_at_enqueue(
        api: TestClient, svc_queue: Queue, raw: str) -> None:
    res = api.post("/jobs", content=raw, headers={**AUTH, "content-type": "application/json"})
    assert res.status_code == 422, res.text
    assert queries.counts(svc_queue) == {"pending": 0, "scheduled": 0, "processing": 0,
                                       "done": 0, "dead": 0}


@pytest.mark.parametrize("kwargs", [{"delay_seconds": math.inf}, {"delay_seconds": 1e14},
                                    {"delay_seconds": math.nan}, {"payload": {"x": "\ud800"}},
                                    {"dedupe_key": "\ud800"}])
def test_the_queue_refuses_them_too(svc_queue: Queue, kwargs: dict[str, object]) -> None:
    with pytest.raises(PayloadError):
        svc_queue.enqueue("noop", **kwargs)  # type: ignore[arg-type]


def corrupt(client: Redis, q: Queue, job_id: str, field: str, value: str) -> None:
    """Write a bad field straight into the stored record, as old code or a hand edit could."""
    client.hset(q.keys.job(job_id), field, value)


def test_one_bad_record_does_not_break_the_listing_or_the_other_records(
        api: TestClient, svc_queue: Queue, client: Redis) -> None:
    ids = [svc_queue.enqueue("noop", {"n": i}).id for i in range(4)]
    corrupt(client, svc_queue, ids[1], "due_at", "1e+303")
    corrupt(client, svc_queue, ids[2], "payload", '{"x": "\\ud800"}')
    listed = api.get("/jobs", params={"state": "pending"})
    assert listed.status_code == 200
    body = listed.json()
    assert [j["id"] for j in body["jobs"]] == [ids[0], ids[3]]
    assert [u["id"] for u in body["unreadable"]] == [ids[1], ids[2]]
    assert api.get(f"/jobs/{ids[0]}").status_code == 200
    bad = api.get(f"/jobs/{ids[1]}")
    assert bad.status_code == 500 and f"job {ids[1]}" in bad.json()["error"]
    assert "unreadable" in bad.json()["error"]


@pytest.fixture
def small_redis(tmp_path: Path) -> Iterator[Redis]:
    """A server of its own, so its memory limit cannot disturb any other test."""
    server = EmbeddedServer(tmp_path / "oom")
    server.ensure_running()
    client = server.client()
    try:
        yield client
    finally:
        server.stop()


def test_a_full_redis_enqueues_all_or_nothing_and_says_out_of_memory(
        small_redis: Redis, svc_settings: IngestSettings) -> None:
    q = Queue(small_redis, svc_settings)
    used = int(small_redis.info("memory")["used_memory"])
    small_redis.config_set("maxmemory-policy", "noeviction")
    # Room for the first few hundred of these jobs only: sent in chunks, the request would stop
    # part way, leaving some enqueued and reporting failure.
    small_redis.config_set("maxmemory", used + 1_500_000)
    body = {"kind": "noop", "payload": {"x": "y" * 1000}, "count": 2000}
    with TestClient(create_app(q)) as c:
        full = c.post("/jobs", json=body, headers=AUTH)
        assert full.status_code == 507, full.text
        assert full.json()["error"].startswith("Redis is out of memory")
        assert queries.counts(q)["pending"] == 0  # none of them
        small = c.post("/jobs", json={**body, "count": 10}, headers=AUTH)
        assert small.status_code == 201, small.text
        assert queries.counts(q)["pending"] == 10  # all of them
