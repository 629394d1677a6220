"""The dashboard's JSON reads and the control routes, over ASGI against the real server."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from support.auth import AUTH

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.controls import paused_kinds
from ingestq.core.job import JobState, error_entry
from ingestq.core.queue import Queue
from ingestq.core.snapshot import take
from ingestq.service import ui_data
from ingestq.service.app import create_app

CONTROL = ["/kinds/noop/pause", "/kinds/noop/resume", "/jobs/1/cancel", "/jobs/1/run-now"]


@pytest.mark.parametrize("route", CONTROL)
def test_every_control_route_needs_the_token(api: TestClient, route: str) -> None:
    assert api.post(route).status_code == 401
    assert api.post(route, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_pause_and_resume_over_http_show_in_metrics(api: TestClient, svc_queue: Queue) -> None:
    assert api.post("/kinds/noop/pause", headers=AUTH).json()["changed"] is True
    assert paused_kinds(svc_queue) == ["noop"]
    line = f'ingest_kind_paused{{kind="noop",queue="{svc_queue.keys.queue}"}} 1.0'
    assert line in api.get("/metrics").text
    assert api.post("/kinds/noop/resume", headers=AUTH).json()["changed"] is True
    assert "ingest_kind_paused{" not in api.get("/metrics").text
    assert api.post("/kinds/bad%20kind/pause", headers=AUTH).status_code == 422


def test_cancel_over_http_answers_404_for_unknown_and_409_for_finished_jobs(
        api: TestClient, svc_queue: Queue) -> None:
    job_id = svc_queue.enqueue("noop", {}).id
    res = api.post(f"/jobs/{job_id}/cancel", headers=AUTH)
    assert res.json() == {"id": job_id, "cancelled": True, "was": "pending"}
    assert api.post(f"/jobs/{job_id}/cancel", headers=AUTH).status_code == 409
    assert api.post("/jobs/999999/cancel", headers=AUTH).status_code == 404
    assert api.post(f"/jobs/{job_id}/run-now", headers=AUTH).status_code == 409


def test_session_says_read_only_and_why_without_a_configured_token(
        client: Redis, settings: IngestSettings) -> None:
    with TestClient(create_app(Queue(client, settings))) as c:
        session = c.get("/ui/api/session").json()
        assert session["actions"] is False and "no service token" in session["reason"]
        assert c.post("/ui/api/token", headers=AUTH).status_code == 403


def test_token_check_accepts_only_the_configured_token(api: TestClient) -> None:
    assert api.post("/ui/api/token", headers=AUTH).status_code == 204
    assert api.post("/ui/api/token").status_code == 401


def test_job_pages_are_oldest_first_and_say_whether_more_follow(
        api: TestClient, svc_queue: Queue) -> None:
    ids = [svc_queue.enqueue("a", {}).id for _ in range(5)]
    first = api.get("/ui/api/jobs", params={"state": "pending", "size": 2}).json()
    last = api.get("/ui/api/jobs", params={"state": "pending", "size": 2, "page": 2}).json()
    assert [j["id"] for j in first["jobs"]] == ids[:2] and first["more"] is True
    assert [j["id"] for j in last["jobs"]] == ids[4:] and last["more"] is False
    assert first["total_in_state"] == 5


def test_dead_count_is_what_a_filtered_retry_would_touch(api: TestClient, svc_queue: Queue
                                                         ) -> None:
    for kind in ("a", "a", "b"):
        svc_queue.enqueue(kind, {})
    for c in svc_queue.claim("w", 3).jobs:
        svc_queue.fail(c.id, c.token, error_entry("Error", "x", "permanent"),
                       mode="permanent")
    assert api.get("/ui/api/dead/count", params={"kind": "a"}).json() == {"count": 2}
    assert api.get("/ui/api/dead/count").json() == {"count": 3}
    assert api.post("/dead/retry", json={"kind": "a"}, headers=AUTH).json()["count"] == 2


def test_job_detail_has_the_jobs_own_events(api: TestClient, svc_queue: Queue) -> None:
    job_id = svc_queue.enqueue("a", {}).id
    svc_queue.enqueue("a", {})
    data = api.get(f"/ui/api/jobs/{job_id}").json()
    assert data["job"]["id"] == job_id
    assert [(e["type"], e["job"]) for e in data["events"]] == [("enqueued", job_id)]
    assert api.get("/ui/api/jobs/999999").status_code == 404


def test_overview_chart_counts_completions_per_minute_from_samples(
        svc_queue: Queue) -> None:
    q = svc_queue
    ui_data.overview(q)  # samples this minute's counters
    for _ in range(3):
        q.enqueue("a", {})
    q.ack_many([(c.id, c.token) for c in q.claim("w", 3).jobs])
    points = ui_data.overview(q)["per_minute"]
    assert len(points) == ui_data.HISTORY_MINUTES
    # a minute may turn between the two reads: the 3 then fall in the last two points
    assert sum(p["completed"] or 0 for p in points[-2:]) == 3
    assert points[-1]["failed"] == 0
    assert points[0]["completed"] is None  # no sample an hour ago: no data, not zero


def test_overview_kind_rows_carry_pending_paused_and_outcomes(api: TestClient,
                                                              svc_queue: Queue) -> None:
    svc_queue.enqueue("a", {})
    api.post("/kinds/a/pause", headers=AUTH)
    o = api.get("/ui/api/overview").json()
    assert o["kinds"] == [{"kind": "a", "pending": 1, "paused": True, "completed": 0,
                           "failed": 0, "dead": 0, "cancelled": 0}]
    assert any("paused" in w for w in o["warnings"])
    assert take(svc_queue).paused == ["a"]
    assert queries.get_job(svc_queue, "1").state is JobState.PENDING


def test_overview_lists_the_kinds_live_workers_take_before_any_job(api: TestClient,
                                                                   svc_queue: Queue) -> None:
    from ingestq.core import worker_registry

    worker_registry.publish(svc_queue, "w1", concurrency=1, kinds=["b", "c"],
                            isolation="thread")
    rows = api.get("/ui/api/overview").json()["kinds"]
    assert [r["kind"] for r in rows] == ["b", "c"]
    assert rows[0] == {"kind": "b", "pending": 0, "paused": False, "completed": 0, "failed": 0,
                       "dead": 0, "cancelled": 0}


def test_workers_view_lists_what_each_worker_holds(svc_queue: Queue) -> None:
    from ingestq.core import worker_registry

    worker_registry.publish(svc_queue, "w1", concurrency=2, kinds=["a"], isolation="thread")
    svc_queue.enqueue("a", {})
    svc_queue.claim("w1", 1)
    [w] = ui_data.workers(svc_queue)
    assert w["id"] == "w1" and [j["id"] for j in w["jobs"]] == ["1"]
    assert w["jobs"][0]["running_for"] is not None


def test_beyond_loopback_the_job_views_need_the_token(svc_queue: Queue) -> None:
    with TestClient(create_app(svc_queue, host="0.0.0.0")) as c:
        assert c.get("/ui/api/session").json()["reads_need_token"] is True
        for path in ("/ui/api/overview", "/ui/api/jobs", "/ui/api/workers",
                     "/ui/api/dead/count"):
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers=AUTH).status_code == 200, path
        assert c.get("/ui").status_code == 200  # the page itself holds no job data
