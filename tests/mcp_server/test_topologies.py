"""The ingestion and MCP paths on Sentinel and Cluster, with real processes throughout.

A folder of the corpus is enqueued by `ingestctl ingest` and one more file by the MCP server's
`ingest` tool; two `ingestctl worker` processes drain them; the CLI and the MCP SDK client over
stdio (`ingestctl mcp`) search them; `ingestctl serve` reports them on /metrics. The single
server runs these paths in the other tests of this package and of tests/ingest and tests/cli.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import anyio.from_thread
import httpx
import pytest
from mcp import Client, StdioServerParameters
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from support.procs import stop, wait_for
from support.promtool import free_port

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.queue import Queue

from .conftest import CORPUS, INGESTCTL, SyncClient, child_env

FOLDER = "tutorial/security"  # a folder of the corpus: a handful of pages on one subject
EXTRA = "tutorial/body.md"  # the file the MCP ingest tool enqueues


def _settings(settings: IngestSettings, tmp_path: Path) -> tuple[IngestSettings, Path]:
    """The test's queue on its topology, with its own store and a docs root it may ingest."""
    root = tmp_path / "docs"
    shutil.copytree(CORPUS / FOLDER, root / FOLDER)
    (root / EXTRA).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CORPUS / EXTRA, root / EXTRA)
    pipeline = settings.pipeline.model_copy(update={
        "roots": [str(root)],
        "store": settings.pipeline.store.model_copy(
            update={"sqlite_path": str(tmp_path / "ingest.sqlite3")})})
    mcp = settings.mcp.model_copy(update={"allow_ingest": True, "max_tokens": 100000,
                                          "poll_seconds": 0.2})
    return settings.model_copy(update={"pipeline": pipeline, "mcp": mcp}), root


def _cli(settings: IngestSettings, *args: str, timeout: float = 90
         ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([INGESTCTL, *args], env=child_env(settings), text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, (args, done.stdout[-1000:], done.stderr[-2000:])
    return done


def _workers(settings: IngestSettings, count: int, tmp_path: Path) -> None:
    """``count`` real worker processes in burst mode, run until the queue is drained."""
    logs = [tmp_path / f"worker{i}.log" for i in range(count)]
    procs = []
    for log in logs:
        with open(log, "w") as err:
            procs.append(subprocess.Popen(
                [INGESTCTL, "worker", "--burst", "--kinds", "file", "--concurrency", "2"],
                env=child_env(settings), stdout=subprocess.DEVNULL, stderr=err))
    try:
        for proc, log in zip(procs, logs, strict=True):
            assert proc.wait(120) == 0, log.read_text()[-2000:]
    finally:
        for proc in procs:
            stop(proc)


def _metrics(settings: IngestSettings, tmp_path: Path) -> dict[tuple[str, str], float]:
    """(family, label value) -> value from a real `ingestctl serve`'s /metrics."""
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([INGESTCTL, "serve", "--port", str(port)],
                                env=child_env(settings), stdout=subprocess.DEVNULL, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(base) or proc.poll() is not None, 90, "/readyz of ingestctl serve")
        assert proc.poll() is None, log.read_text()
        text = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        stop(proc)
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("queue") == settings.queue.name:
                label = sample.labels.get("state") or sample.labels.get("outcome") or ""
                found[(sample.name, label)] = sample.value
    return found


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
@pytest.mark.topologies("sentinel", "cluster-acked")
def test_ingest_workers_search_mcp_and_metrics_work_on_sentinel_and_cluster(
        settings: IngestSettings, client: Redis, tmp_path: Path,
        portal: anyio.from_thread.BlockingPortal) -> None:
    settings, root = _settings(settings, tmp_path)
    queue = Queue(client, settings)
    pages = sorted(p for p in (root / FOLDER).rglob("*.md"))
    enqueued = json.loads(_cli(settings, "ingest", str(root / FOLDER), "--json").stdout)
    assert enqueued["enqueued"] == len(pages) >= 3

    params = StdioServerParameters(command=INGESTCTL, args=["mcp"], env=child_env(settings))
    with portal.wrap_async_context_manager(Client(params, read_timeout_seconds=60)) as session:
        mcp = SyncClient(portal, session)
        # the MCP ingest path: the tool enqueues on the topology, the workers below run it
        told = mcp.ok("ingest", paths=[str(root / EXTRA)])
        assert told["files"] == 1 and len(told["jobs"]) == 1
        _workers(settings, 2, tmp_path)
        assert queries.counts(queue)["done"] == len(pages) + 1
        assert queries.counts(queue)["dead"] == 0

        found = json.loads(_cli(settings, "search", "OAuth2 password bearer token", "--json",
                                "--local").stdout)
        assert found and FOLDER in found[0]["source_path"]
        hits = mcp.ok("search", query="declare a request body with a Pydantic model", k=3)
        assert hits["hits"][0]["path"].endswith(EXTRA), hits["hits"]
        status = mcp.ok("queue_status")  # the MCP server's own connection to the topology
        assert status["counts"]["done"] == len(pages) + 1 and status["dead"] == 0

    metrics = _metrics(settings, tmp_path)
    assert metrics[("ingest_jobs_enqueued_total", "")] == len(pages) + 1
    assert metrics[("ingest_jobs_total", "completed")] == len(pages) + 1
    assert metrics[("ingest_queue_depth", "queued")] == 0
    assert metrics[("ingest_queue_depth", "dlq")] == 0
