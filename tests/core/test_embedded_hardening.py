"""Issue 15 on the embedded server: a private socket directory, only our own server is used,
and the processes that need it (reaper, service) outlive its death and restart it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.procs import ingestctl, stop, wait_for
from support.promtool import free_port

from ingestq.config import IngestSettings, load_config
from ingestq.core import queries
from ingestq.core.connection import connect
from ingestq.core.embedded import EmbeddedServer, valkey_binary
from ingestq.core.job import JobState
from ingestq.core.queue import Queue
from ingestq.errors import ConnectionFailed

pytestmark = pytest.mark.skipif(bool(os.environ.get("INGESTQ_REDIS_URL")),
                                reason="embedded-server tests; INGESTQ_REDIS_URL points elsewhere")


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    EmbeddedServer(tmp_path).stop()


@pytest.fixture
def deep_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data directory too deep for sun_path, with its own base for the socket directory."""
    # The base itself must be short enough for a socket path: pytest's tmp_path under xdist
    # (popen-gwN/...) is not, so the base is a fresh directory directly in the temp dir.
    run = Path(tempfile.mkdtemp(prefix="iq"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    yield deep
    EmbeddedServer(deep).stop()
    shutil.rmtree(run, ignore_errors=True)


def settings_for(data_dir: Path, **env: str) -> IngestSettings:
    return load_config(environ={"INGESTQ_DATA_DIR": str(data_dir), **env}).ingest


def child_env(data_dir: Path, **env: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("INGESTQ_")}
    out.update({"INGESTQ_DATA_DIR": str(data_dir), **env})
    return out


def plain_server(sock: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """A server ingestq did not start, listening where the embedded one would."""
    proc = subprocess.Popen([valkey_binary(), "--port", "0", "--unixsocket", str(sock),
                             "--save", "", "--dir", str(cwd)], stdout=subprocess.DEVNULL)
    wait_for(sock.exists, 10, "the other server's socket")
    return proc


def test_deep_data_dir_puts_its_socket_in_a_private_directory(deep_dir: Path) -> None:
    connect(settings_for(deep_dir))
    sock = EmbeddedServer(deep_dir).socket
    st = sock.parent.stat()
    assert sock.exists() and len(str(sock)) <= 100
    assert st.st_uid == os.getuid() and st.st_mode & 0o777 == 0o700


def test_socket_directory_open_to_others_is_refused(deep_dir: Path) -> None:
    sock_dir = EmbeddedServer(deep_dir).socket.parent
    sock_dir.mkdir(mode=0o755)
    sock_dir.chmod(0o755)  # as another user could have made it first
    with pytest.raises(ConnectionFailed, match=f"{sock_dir} has mode 755"):
        connect(settings_for(deep_dir))


def test_a_server_ingestq_did_not_start_is_never_used(deep_dir: Path, tmp_path: Path) -> None:
    sock = EmbeddedServer(deep_dir).socket
    sock.parent.mkdir(mode=0o700)
    other = plain_server(sock, tmp_path)
    try:
        with pytest.raises(ConnectionFailed, match="did not start answers"):
            connect(settings_for(deep_dir))
    finally:
        other.terminate()
        other.wait(10)


def test_a_stale_pidfile_naming_a_live_server_is_named_in_the_error(
        data_dir: Path, tmp_path: Path) -> None:
    other = plain_server(tmp_path / "other.sock", tmp_path)
    server = EmbeddedServer(data_dir)
    server.dir.mkdir(parents=True)
    server.pidfile.write_text(f"{other.pid}\n")  # pid reuse: a live valkey-server, not ours
    try:
        with pytest.raises(ConnectionFailed, match=str(server.pidfile)):
            server.ensure_running(timeout=1)
    finally:
        other.terminate()
        other.wait(10)


def kill_server(server: EmbeddedServer) -> int:
    pid = server.pid()
    assert pid is not None
    time.sleep(1.2)  # appendfsync everysec: what came before reaches the disk
    os.kill(pid, signal.SIGKILL)
    return pid


@pytest.mark.slow
def test_reaper_outlives_a_server_kill_restarts_it_and_reaps(data_dir: Path) -> None:
    env = {"INGESTQ_QUEUE_RECOVERY__LEASE_SECONDS": "2",
           "INGESTQ_QUEUE_RECOVERY__REAPER_INTERVAL_SECONDS": "0.5"}
    settings = settings_for(data_dir, **env)
    q = Queue(connect(settings), settings)
    job_id = q.enqueue("noop", {}).id
    server = EmbeddedServer(data_dir)
    reaper = ingestctl(child_env(data_dir, **env), "reaper", log=data_dir / "reaper.log")
    try:
        wait_for(lambda: q.client.hget(q.keys.reaper, "last_run"), 90, "the reaper's first pass")
        assert q.claim("w", 1).jobs[0].id == job_id  # and never acked: the reaper's work
        pid = kill_server(server)
        wait_for(lambda: server.pid() not in (None, pid) and server.ping(), 15,
                 "the reaper to restart the server")
        q2 = Queue(connect(settings), settings)
        wait_for(lambda: queries.get_job(q2, job_id).state is JobState.PENDING, 15,
                 "the reaper to reap the expired lease after the restart")
        assert reaper.poll() is None, (data_dir / "reaper.log").read_text()
    finally:
        stop(reaper)


@pytest.mark.slow
def test_service_alone_restarts_a_killed_server(data_dir: Path) -> None:
    connect(settings_for(data_dir))
    server = EmbeddedServer(data_dir)
    port = free_port()
    svc = ingestctl(child_env(data_dir), "serve", "--port", str(port),
                    log=data_dir / "svc.log")
    url = f"http://127.0.0.1:{port}/readyz"

    def ready() -> bool:
        try:
            return httpx.get(url, timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, 30, "the service to be ready")
        pid = kill_server(server)
        wait_for(lambda: server.pid() not in (None, pid) and ready(), 15,
                 "the service to restart the server and be ready again")
    finally:
        stop(svc)
