"""Every route against the real server: tokens, limits, JSON errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.auth import AUTH, TOKEN

from ingestq.config import IngestSettings, ServiceSettings
from ingestq.core import queries
from ingestq.core.job import JobState, error_entry
from ingestq.core.queue import Queue
from ingestq.service.app import create_app


def test_healthz_answers_without_redis_work(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


MUTATING = [("/jobs", {"kind": "noop"}), ("/dead/retry", {"all": True}),
            ("/dead/purge", {"all": True}), ("/ingest", {"paths": ["/tmp"]})]


@pytest.mark.parametrize(("route", "body"), MUTATING)
def test_every_mutating_route_needs_the_token(api: TestClient, svc_queue: Queue, route: str,
                                              body: dict[str, Any]) -> None:
    missing = api.post(route, json=body)
    wrong = api.post(route, json=body, headers={"Authorization": "Bearer nope"})
    other_scheme = api.post(route, json=body, headers={"Authorization": f"Basic {TOKEN}"})
    for res in (missing, wrong, other_scheme):
        assert res.status_code == 401 and "bearer token" in res.json()["error"]
        assert res.headers["www-authenticate"] == "Bearer"
    assert queries.counts(svc_queue)["pending"] == 0


@pytest.mark.parametrize(("route", "body"), MUTATING)
def test_mutating_routes_are_refused_when_no_token_is_configured(
        svc_queue: Queue, route: str, body: dict[str, Any]) -> None:
    q = Queue(svc_queue.client, svc_queue.settings.model_copy(
        update={"service": ServiceSettings()}))
    with TestClient(create_app(q)) as c:
        res = c.post(route, json=body, headers=AUTH)
    assert res.status_code == 403 and "INGESTQ_SERVICE_TOKEN" in res.json()["error"]


def test_read_routes_need_no_token(api: TestClient) -> None:
    for path in ("/jobs", "/dead", "/healthz", "/metrics", "/openapi.json"):
        assert api.get(path).status_code == 200, path


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
        q.fail(job.id, job.token, error_entry("Error", "bad", "x"), mode="permanent")
    dead = api.get("/dead", params={"kind": "a"}).json()["jobs"]
    assert len(dead) == 2 and all(j["dead_reason"] == "permanent" for j in dead)
    assert api.post("/dead/retry", json={"kind": "a"}).status_code == 401
    res = api.post("/dead/retry", json={"kind": "a"}, headers=AUTH)
    assert res.status_code == 200
    assert queries.counts(q)["pending"] == 2
    res = api.post("/dead/purge", json={"all": True}, headers=AUTH)
    assert res.status_code == 200 and queries.counts(q)["dead"] == 0
    assert api.post("/dead/purge", json={}, headers=AUTH).status_code == 422


def test_dead_retry_and_purge_by_ids_touch_only_those_jobs(api: TestClient,
                                                           svc_queue: Queue) -> None:
    q = svc_queue
    ids = [q.enqueue("a", {}).id for _ in range(3)]
    for job in q.claim("w", 3).jobs:
        q.fail(job.id, job.token, error_entry("Error", "bad", "x"), mode="permanent")
    assert api.post("/dead/retry", json={"ids": [ids[0]]}, headers=AUTH).status_code == 200
    assert api.post("/dead/purge", json={"ids": [ids[1]]}, headers=AUTH).status_code == 200
    assert queries.get_job(q, ids[0]).state is JobState.PENDING
    assert api.get(f"/jobs/{ids[1]}").status_code == 404
    assert [j["id"] for j in api.get("/dead").json()["jobs"]] == [ids[2]]


def test_ingest_is_refused_when_no_roots_are_configured(api: TestClient,
                                                        tmp_path: Path) -> None:
    res = api.post("/ingest", json={"paths": [str(tmp_path)]}, headers=AUTH)
    assert res.status_code == 403 and "ingest.pipeline.roots" in res.json()["error"]


def roots_app(svc_queue: Queue, root: Path) -> TestClient:
    s: IngestSettings = svc_queue.settings
    pipeline = s.pipeline.model_copy(update={"roots": [str(root)]})
    return TestClient(create_app(Queue(svc_queue.client, s.model_copy(
        update={"pipeline": pipeline}))))


def test_ingest_enqueues_one_file_job_per_document_inside_the_roots(
        svc_queue: Queue, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "guide").mkdir(parents=True)
    (root / "a.md").write_text("# A\n\ntext\n")
    (root / "guide" / "b.md").write_text("# B\n\ntext\n")
    with roots_app(svc_queue, root) as c:
        res = c.post("/ingest", json={"paths": [str(root)]}, headers=AUTH)
        again = c.post("/ingest", json={"paths": [str(root)]}, headers=AUTH)
    assert res.status_code == 202
    body = res.json()
    assert sorted(Path(j["path"]).name for j in body["jobs"]) == ["a.md", "b.md"]
    assert all(j["created"] for j in body["jobs"]) and body["missing"] == []
    assert not any(j["created"] for j in again.json()["jobs"])  # same content: same live jobs
    pending = queries.list_jobs(svc_queue, JobState.PENDING, kind="file")
    assert sorted(Path(j.payload["path"]).name for j in pending) == ["a.md", "b.md"]


def test_ingest_refuses_paths_outside_the_roots(svc_queue: Queue, tmp_path: Path) -> None:
    root, outside = tmp_path / "docs", tmp_path / "private"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.md").write_text("# S\n")
    with roots_app(svc_queue, root) as c:
        res = c.post("/ingest", json={"paths": [str(outside / "secret.md")]}, headers=AUTH)
    assert res.status_code == 403 and "outside the configured roots" in res.json()["error"]
    assert queries.counts(svc_queue)["pending"] == 0


def test_openapi_schema_lists_the_routes_and_the_bearer_scheme(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]
    for route in ("/jobs", "/jobs/{job_id}", "/dead", "/dead/retry", "/dead/purge", "/ingest",
                  "/metrics", "/healthz", "/readyz"):
        assert route in paths
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert paths["/dead/purge"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in paths["/healthz"]["get"]  # job reads may need it: see read_auth
    assert "swagger-ui" in api.get("/docs").text


def test_unknown_routes_and_methods_answer_json_errors(api: TestClient) -> None:
    missing = api.get("/no/such/route")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found", "detail": None}
    wrong_method = api.delete("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "Method Not Allowed", "detail": None}
    assert wrong_method.headers["allow"] == "GET"


def test_an_unexpected_exception_is_a_json_500_naming_only_its_type(svc_queue: Queue) -> None:
    app = create_app(svc_queue)

    def broken() -> None:
        raise RuntimeError("internal secret")

    app.add_api_route("/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        res = c.get("/broken")
    assert res.status_code == 500
    assert res.json() == {"error": "internal error", "detail": "RuntimeError"}


def test_delay_and_retry_budget_are_kept_on_the_job(api: TestClient, svc_queue: Queue) -> None:
    res = api.post("/jobs", json={"kind": "noop", "delay_seconds": 60, "max_retries": 0},
                   headers=AUTH)
    job = api.get(f"/jobs/{res.json()['id']}").json()
    assert job["state"] == "scheduled"
    assert queries.counts(svc_queue)["scheduled"] == 1


def test_count_enqueues_that_many_jobs(api: TestClient, svc_queue: Queue) -> None:
    res = api.post("/jobs", json={"kind": "noop", "count": 3}, headers=AUTH)
    assert res.status_code == 201 and len(res.json()["jobs"]) == 3
    assert queries.counts(svc_queue)["pending"] == 3


def test_requests_are_counted_by_route_template_and_status(api: TestClient) -> None:
    from ingestq.service.metrics import HTTP_REQUESTS

    def count(route: str, status: str) -> float:
        return HTTP_REQUESTS.labels("POST", route, status)._value.get()

    before = count("/jobs", "413"), count("/jobs", "401")
    api.post("/jobs", json={"kind": "noop", "payload": {"x": "y" * 10_000}}, headers=AUTH)
    api.post("/jobs", json={"kind": "noop"})
    assert (count("/jobs", "413"), count("/jobs", "401")) == (before[0] + 1, before[1] + 1)
    api.get("/jobs/12345")
    text = api.get("/metrics").text
    assert 'route="/jobs/{job_id}",status="404"' in text
    assert "/jobs/12345" not in text


def test_enqueueing_a_kind_no_live_worker_takes_is_accepted_with_a_warning_header(
        api: TestClient, svc_queue: Queue) -> None:
    from ingestq.core import worker_registry

    res = api.post("/jobs", json={"kind": "nosuchkind", "payload": {}}, headers=AUTH)
    assert res.status_code == 201
    assert "no live worker takes kind 'nosuchkind'" in res.headers["X-Ingestq-Warning"]
    worker_registry.publish(svc_queue, "h:1:ab", concurrency=1, kinds=["noop"],
                            isolation="thread")
    served = api.post("/jobs", json={"kind": "noop", "payload": {}}, headers=AUTH)
    assert served.status_code == 201 and "X-Ingestq-Warning" not in served.headers
