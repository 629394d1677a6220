"""A job of a kind no live worker takes: warned at enqueue, reported by status, doctor, /readyz
and /metrics (one snapshot, one health rule), and `tail` gives up instead of hanging."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from support.procs import env_for, ingestctl, stop, wait_for

from ingestq.config import IngestSettings
from ingestq.core import worker_registry
from ingestq.core.queue import Queue
from ingestq.service.app import create_app

from .conftest import Invoke, parse, run_ingestctl


def test_a_kind_no_live_worker_takes_is_warned_reported_everywhere_and_not_waited_on(
        invoke: Invoke, settings: IngestSettings, live_queue: Queue, tmp_path: Path) -> None:
    worker = ingestctl(env_for(settings), "worker", "--kinds", "noop", log=tmp_path / "w.log")
    try:
        wait_for(lambda: worker_registry.live_workers(live_queue), 20, "the noop worker")
        served = invoke("enqueue", "noop", "--json")
        assert served.exit_code == 0 and "no live worker takes" not in served.stderr
        result = invoke("enqueue", "nosuchkind", "--json")
        assert result.exit_code == 0, result.stderr
        assert "no live worker takes kind 'nosuchkind'" in result.stderr
        (job,) = json.loads(result.stdout)

        status = parse(invoke("status", "--json"))
        assert status["unserved_pending"] == {"nosuchkind": 1}
        assert any("1 pending of kinds no live worker takes: nosuchkind (1)" in w
                   for w in status["warnings"])
        doctor = invoke("doctor", "--json")
        assert doctor.exit_code == 1
        check = next(c for c in json.loads(doctor.stdout)["checks"]
                     if c["name"] == "unserved kinds")
        assert check["ok"] is False and "--kinds nosuchkind" in check["fix"]
        with TestClient(create_app(live_queue)) as api:
            ready = api.get("/readyz").json()
            metrics = api.get("/metrics").text
        assert ready["ready"] is True and ready["attention"] == ["unserved kinds"]
        line = f'ingest_pending_unserved_jobs{{queue="{live_queue.keys.queue}"}} 1.0'
        assert line in metrics

        # a worker of another kind is alive, yet nothing will ever run this job
        tail = run_ingestctl(settings, "tail", job["id"], "--timeout", "1")
        assert tail.returncode == 1
        assert "no live worker takes kind 'nosuchkind'" in tail.stderr
    finally:
        stop(worker)


def test_enqueue_with_no_worker_at_all_warns_and_status_blames_the_missing_workers(
        invoke: Invoke) -> None:
    result = invoke("enqueue", "noop")
    assert result.exit_code == 0 and "no live worker takes kind 'noop'" in result.stderr
    status = parse(invoke("status", "--json"))
    # one finding per cause: the workers rule, not also the kinds rule
    assert status["unserved_pending"] == {}
    assert [w for w in status["warnings"] if "live worker" in w] == [
        "no live worker while 1 job(s) wait: start one with `ingestctl worker` "
        "(or `ingestctl up`)"]
