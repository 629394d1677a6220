"""/mcp with no token configured is off and says so (route, /readyz, doctor); each tool call is
a span, and the ingest tool's enqueue spans are its children."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from redis import Redis

from ingestq.config import IngestSettings, ServiceSettings
from ingestq.core.queue import Queue
from ingestq.mcp.server import build_server
from ingestq.ops.doctor import run_doctor
from ingestq.service.app import create_app


def test_without_a_token_the_mcp_route_is_off_and_readyz_and_doctor_say_so(
        client: Redis, settings: IngestSettings) -> None:
    queue = Queue(client, settings.model_copy(update={"service": ServiceSettings(token=None)}))
    with TestClient(create_app(queue)) as api:
        refused = api.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 403 and "ingest.service.token" in refused.json()["error"]
        ready = api.get("/readyz").json()["checks"]["mcp"]
        assert ready["ok"] is True and ready["detail"].startswith("off")
    doctor = next(c for c in run_doctor(queue).checks if c.name == "mcp http")
    assert doctor.ok and doctor.detail.startswith("off")


def test_each_tool_call_is_a_span_and_enqueues_are_its_children(
        client: Redis, settings: IngestSettings, tmp_path: Path) -> None:
    tracing = pytest.importorskip("service.test_tracing")  # the [tracing] extra's fixture
    exporter = tracing._EXPORTER
    next(tracing.spans.__wrapped__())  # attach the in-memory exporter to the global provider
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text("# Page\n\nLeases expire when a worker dies.\n")
    mine = settings.model_copy(update={
        "data_dir": str(settings.data_dir),
        "pipeline": settings.pipeline.model_copy(update={
            "roots": [str(docs)],
            "store": settings.pipeline.store.model_copy(
                update={"sqlite_path": str(tmp_path / "ingest.sqlite3")})}),
        "mcp": settings.mcp.model_copy(update={"allow_ingest": True})})

    async def scenario() -> None:
        async with Client(build_server(mine)) as mcp_client:
            await mcp_client.call_tool("ingest", {"paths": [str(docs)]})
            await mcp_client.call_tool("search", {"query": "leases"})

    anyio.run(scenario)
    finished = {span.name: span for span in exporter.get_finished_spans()}
    tool = finished["mcp.tool ingest"]
    assert tool.attributes["ingestq.mcp.tool"] == "ingest"
    assert tool.attributes["ingestq.store"] == "sqlite"
    assert tool.attributes["ingestq.mcp.arg.paths.size"] == 1
    assert tool.attributes["ingestq.mcp.result_count"] == 1
    enqueue = finished["enqueue file"]
    assert enqueue.parent is not None and enqueue.parent.span_id == tool.context.span_id
    assert "mcp.tool search" in finished  # refused (nothing ingested) but still traced


def test_until_the_sdk_is_loaded_mcp_answers_503_with_retry_after(
        settings: IngestSettings) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route

    from ingestq.mcp.http import MCP_PATH, BearerGuard, _McpApp

    starting = _McpApp(settings, "127.0.0.1")  # its run() has not built the server yet
    app = Starlette(routes=[Route(MCP_PATH, BearerGuard(starting, "t0ken"))])
    with TestClient(app) as api:
        assert api.post(MCP_PATH, json={}).status_code == 401
        res = api.post(MCP_PATH, json={}, headers={"Authorization": "Bearer t0ken"})
    assert res.status_code == 503 and res.headers["retry-after"] == "1"
    assert "starting" in res.json()["error"]
