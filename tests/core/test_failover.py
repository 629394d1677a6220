"""A primary killed with kill -9 in the middle of a run, on real Sentinel and Cluster topologies.

Workers, a standalone reaper and the HTTP service keep running through the failover (no process
is restarted); with ``redis.min_replicas_acked: 1`` every job whose enqueue returned runs, and no
job's ack is accepted twice. The topologies are restored (the killed node restarted as a replica)
before the next test.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from support.failover_run import FailoverRun, tuned
from support.procs import env_for, ingestctl, stop

from ingestq.config import IngestSettings
from ingestq.core.queue import Queue
from ingestq.core.snapshot import take

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", ["sentinel", "cluster"])
def test_after_kill_9_of_the_primary_nothing_confirmed_is_lost_and_every_process_carries_on(
        request: pytest.FixtureRequest, name: str, base_settings: IngestSettings,
        tmp_path: Path) -> None:
    topo = request.getfixturevalue(f"{name}_set")
    settings = tuned(base_settings, topo.url(), acked=1)
    port = free_port()
    reaper = ingestctl(env_for(settings, redis__min_replicas_acked=1), "reaper",
                       log=tmp_path / "reaper.log")
    killed: list[float] = []

    def kill(queue: Queue) -> None:
        victim = topo.primary() if name == "sentinel" else topo.primary_for(queue.keys.seq)
        victim.kill()
        killed.append(time.time())
        # a supervisor brings the node back as a replica: with min_replicas_acked 1 and one
        # replica per primary, nothing can be confirmed until then (docs/architecture.md)
        threading.Thread(target=topo.heal, args=(victim,), daemon=True).start()

    run = FailoverRun(settings, tmp_path, jobs=300, kill=kill, kill_at=0.3, timeout=90,
                      with_service_port=port)
    try:
        found = run.run(lambda q: answers(f"http://127.0.0.1:{port}/readyz")
                              and (take(q).reaper.last_run or 0.0) > killed[0] + 1)
        assert killed, "the primary was never killed"
        assert found.confirmed == 300
        assert found.lost == [], f"confirmed jobs that never ran: {found.lost[:10]}"
        assert found.double_acked == 0
        assert found.held_leases_lost == 0, "a lease held before the kill did not survive it"
        assert run.after_checks_passed, "service or reaper did not carry on after the failover"
    finally:
        stop(reaper)
        topo.wait_healthy()
