"""Every route against the real server: tokens, limits, JSON errors."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests_auth import AUTH

from ingestq import reads
from ingestq.queue import Queue, error_entry


def test_healthz_answers_without_redis_work(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


def test_post_job_needs_the_token(api: TestClient) -> None:
    assert api.post("/jobs", json={"kind": "noop"}).status_code == 401
    bad = api.post("/jobs", json={"kind": "noop"}, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and "bearer token" in bad.json()["error"]


def test_mutating_routes_are_refused_when_no_token_is_configured(svc_queue: Queue) -> None:
    from ingestq.config import ServiceSettings
    from ingestq.service.app import create_app

    q = Queue(svc_queue.client, svc_queue.settings.model_copy(
        update={"service": ServiceSettings()}))
    with TestClient(create_app(q)) as c:
        res = c.post("/jobs", json={"kind": "noop"}, headers=AUTH)
    assert res.status_code == 403 and "INGESTQ_SERVICE_TOKEN" in res.json()["error"]


def test_post_then_get_a_job(api: TestClient, svc_queue: Queue) -> None:
    res = api.post("/jobs", json={"kind": "sleep", "payload": {"seconds": 1}}, headers=AUTH)
    assert res.status_code == 201 and res.json()["created"] is True
    job = api.get(f"/jobs/{res.json()['id']}").json()
    assert job["kind"] == "sleep" and job["state"] == "pending"
    assert job["payload"]["seconds"] == 1
    listed = api.get("/jobs", params={"state": "pending", "kind": "sleep"}).json()["jobs"]
    assert [j["id"] for j in listed] == [res.json()["id"]]


def test_dedupe_key_returns_the_live_job(api: TestClient) -> None:
    body = {"kind": "file", "payload": {"path": "/x"}, "dedupe_key": "k"}
    a = api.post("/jobs", json=body, headers=AUTH).json()
    b = api.post("/jobs", json=body, headers=AUTH).json()
    assert a["id"] == b["id"] and b["created"] is False


def test_unknown_job_is_404_json(api: TestClient) -> None:
    res = api.get("/jobs/999999")
    assert res.status_code == 404 and "does not exist" in res.json()["error"]


def test_invalid_body_is_422_with_details(api: TestClient) -> None:
    res = api.post("/jobs", json={"kind": "bad kind", "payload": {}}, headers=AUTH)
    assert res.status_code == 422 and "kind" in res.json()["error"]
    res = api.post("/jobs", json={"payload": {}}, headers=AUTH)
    assert res.status_code == 422 and res.json()["detail"][0]["loc"][-1] == "kind"


def test_oversized_body_is_413_by_length_and_by_stream(api: TestClient) -> None:
    big = {"kind": "noop", "payload": {"blob": "x" * 10_000}}
    res = api.post("/jobs", json=big, headers=AUTH)
    assert res.status_code == 413 and "max_body_bytes" in res.json()["error"]

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 1000

    res = api.post("/jobs", content=chunks(), headers={**AUTH, "content-type": "application/json"})
    assert res.status_code == 413


def test_dead_list_retry_and_purge_by_filter(api: TestClient, svc_queue: Queue) -> None:
    q = svc_queue
    for kind in ("a", "a", "b"):
        q.enqueue(kind, {})
    for job in q.claim("w", 3).jobs:
        q.fail(job.id, job.token, error_entry(None, reason="x", message="bad"), mode="permanent")
    dead = api.get("/dead", params={"kind": "a"}).json()["jobs"]
    assert len(dead) == 2 and all(j["dead_reason"] == "permanent" for j in dead)
    assert api.post("/dead/retry", json={"kind": "a"}).status_code == 401
    res = api.post("/dead/retry", json={"kind": "a"}, headers=AUTH)
    assert res.status_code == 200
    assert reads.counts(q)["pending"] == 2
    res = api.post("/dead/purge", json={"all": True}, headers=AUTH)
    assert res.status_code == 200 and reads.counts(q)["dead"] == 0
    assert api.post("/dead/purge", json={}, headers=AUTH).status_code == 422


def test_ingest_is_refused_outside_the_roots(api: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = api.post("/ingest", json={"paths": [str(tmp_path)]}, headers=AUTH)
    assert res.status_code == 403 and "roots" in res.json()["error"]


def test_openapi_schema_lists_the_routes(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for route in ("/jobs", "/jobs/{job_id}", "/dead", "/dead/retry", "/dead/purge", "/ingest",
                  "/metrics", "/healthz", "/readyz"):
        assert route in paths
    assert api.get("/docs").status_code == 200
