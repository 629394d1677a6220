"""The standing chaos test: bench/chaos.py, small, with every fault it knows.

Real worker and reaper processes on a fresh embedded Valkey; workers SIGKILLed every 2 s and
SIGSTOPped past their lease every 3 s, reapers SIGKILLed every 4 s, Valkey SIGKILLed once, and a
stuck handler that holds its thread slot far past the job timeout. Nothing may be lost, left in
flight or acked twice, and no healthy job may end dead. Bounded to about two minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
pytestmark = pytest.mark.slow


@pytest.mark.timeout(660)
def test_chaos_loses_nothing_sticks_nothing_acks_once_and_kills_no_healthy_job(
        tmp_path: Path) -> None:
    # about 1.5 min on a quiet machine; the budget is for a loaded one (5 min at load 25)
    proc = subprocess.Popen([sys.executable, str(BENCH / "chaos.py"), "--jobs", "400",
                             "--feed-seconds", "24", "--seed", "15", "--no-record", "--json",
                             "--cap-seconds", "480"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    try:
        stdout, stderr = proc.communicate(timeout=570)
    finally:
        if proc.poll() is None:  # SIGTERM: the driver stops its workers, reapers and server
            proc.terminate()
            proc.communicate(timeout=60)
    res = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    summary = json.loads(res.stdout.splitlines()[-1]) if res.stdout else {}
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-3000:])
    assert (summary["lost"], summary["stuck"], summary["double_acked"],
            summary["wrongly_dead"]) == (0, 0, 0, 0), summary
    assert summary["unexplained_runs"] == 0 and summary["ok"], summary
    # every fault happened at least once, or the test proves nothing
    assert summary["worker_kills"] >= 5 and summary["pauses"] >= 3, summary
    assert summary["reaper_kills"] >= 2 and summary["valkey_killed"], summary
    stuck_row = dict(summary["rows"])["stuck-handler jobs, by final state"]
    assert stuck_row.startswith("dead:"), stuck_row
