"""MCP tests: the SDK's own client against `ingestctl mcp` (stdio) and `ingestctl serve` (HTTP).

One server process per transport per module: the SDK takes seconds to import on a loaded
machine. Tests share it through an anyio blocking portal and a small synchronous wrapper. The
documents are a sample of the fastapi-docs corpus, copied (so tests may edit them) and ingested
by the test process, which is a different process from the server.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult
from support.corpus import FASTAPI_EN
from support.procs import env_for, stop, wait_for
from support.promtool import free_port

from ingestq.config import IngestSettings, load_config
from ingestq.ingest.pipeline import Pipeline

CORPUS = FASTAPI_EN
SAMPLE = ("tutorial/body.md", "tutorial/query-params.md", "tutorial/path-params.md",
          "tutorial/first-steps.md", "tutorial/response-model.md",
          "tutorial/dependencies/index.md", "tutorial/security/first-steps.md",
          "tutorial/handling-errors.md", "tutorial/body-fields.md", "tutorial/index.md")
TOKEN = "mcp-test-token"
INGESTCTL = str(Path(sys.executable).parent / "ingestctl")



@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of a sample of the corpus, keeping its folder layout (links resolve)."""
    source = CORPUS
    root = tmp_path_factory.mktemp("docs")
    for name in SAMPLE:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target)
    return root


@pytest.fixture(scope="module")
def mcp_settings(base_settings: IngestSettings, docs: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> IngestSettings:
    """Settings of this module: its own queue and SQLite file, the docs as the only root."""
    store = tmp_path_factory.mktemp("store") / "ingest.sqlite3"
    env = {**_redis_env(base_settings), "INGESTQ_QUEUE__NAME": "mcp-" + uuid.uuid4().hex[:10],
           "INGESTQ_PIPELINE__STORE__SQLITE_PATH": str(store),
           "INGESTQ_PIPELINE__ROOTS": f"['{docs}']", "INGESTQ_MCP__ALLOW_INGEST": "true",
           "INGESTQ_MCP__MAX_TOKENS": "100000", "INGESTQ_MCP__POLL_SECONDS": "0.2",
           "INGESTQ_SERVICE_TOKEN": TOKEN}
    return load_config(environ=env).ingest


def _redis_env(base: IngestSettings) -> dict[str, str]:
    env = {"INGESTQ_DATA_DIR": base.data_dir}
    if base.redis.url:
        env["INGESTQ_REDIS_URL"] = base.redis.url
    return env


def child_env(settings: IngestSettings) -> dict[str, str]:
    """The environment of a server process for these settings."""
    env = env_for(settings, pipeline__store__sqlite_path=settings.pipeline.store.sqlite_path,
                  pipeline__roots=f"['{settings.pipeline.roots[0]}']",
                  mcp__allow_ingest=settings.mcp.allow_ingest,
                  mcp__max_tokens=settings.mcp.max_tokens,
                  mcp__poll_seconds=settings.mcp.poll_seconds)
    env["INGESTQ_SERVICE_TOKEN"] = settings.service.token or ""
    return env


@pytest.fixture(scope="module")
def pipeline(mcp_settings: IngestSettings, docs: Path) -> Iterator[Pipeline]:
    """The test process's pipeline on the module's store, with the sample ingested."""
    opened = Pipeline.open(mcp_settings.pipeline, Path(mcp_settings.data_dir))
    for name in SAMPLE:
        opened.ingest_file(str(docs / name))
    yield opened
    opened.close()


class SyncClient:
    """The SDK client driven from synchronous tests through a blocking portal."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, client: Client) -> None:
        self.portal = portal
        self.client = client

    def call(self, tool: str, **arguments: Any) -> CallToolResult:
        """Call a tool; the result may be an error (``is_error``)."""
        result = self.portal.call(self.client.call_tool, tool, arguments)
        assert isinstance(result, CallToolResult)
        return result

    def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """Call a tool that must succeed; its structured content."""
        result = self.call(tool, **arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return result.structured_content

    def run(self, method: str, *args: Any) -> Any:
        """Any other client method (list_tools, read_resource, ...)."""
        return self.portal.call(getattr(self.client, method), *args)


@pytest.fixture(scope="module")
def portal() -> Iterator[anyio.from_thread.BlockingPortal]:
    """An event loop in a thread, for clients that live as long as the module."""
    with anyio.from_thread.start_blocking_portal() as running:
        yield running


@pytest.fixture(scope="module")
def stdio(portal: anyio.from_thread.BlockingPortal, mcp_settings: IngestSettings,
          pipeline: Pipeline) -> Iterator[SyncClient]:
    """A client on `ingestctl mcp`, spawned over stdio."""
    params = StdioServerParameters(command=INGESTCTL, args=["mcp"], env=child_env(mcp_settings))
    with portal.wrap_async_context_manager(Client(params, read_timeout_seconds=60)) as client:
        yield SyncClient(portal, client)


@pytest.fixture(scope="module")
def service(mcp_settings: IngestSettings, pipeline: Pipeline,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running `ingestctl serve` with the token set; yields its /mcp URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([INGESTCTL, "serve", "--port", str(port)],
                                env=child_env(mcp_settings), stdout=subprocess.DEVNULL,
                                stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _mcp_ready(base) or proc.poll() is not None, 90, "/mcp of ingestctl serve")
        assert proc.poll() is None, log.read_text()
        yield f"{base}/mcp"
    finally:
        stop(proc)


def _mcp_ready(base: str) -> bool:
    # /healthz answers at once; /mcp says 503 until the SDK is loaded and the stores are open.
    try:
        return httpx.get(f"{base}/mcp", headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=1).status_code != 503
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def http(portal: anyio.from_thread.BlockingPortal, service: str) -> Iterator[SyncClient]:
    """A client on the service's /mcp with the bearer token."""
    http_client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    transport = streamable_http_client(service, http_client=http_client)
    with portal.wrap_async_context_manager(Client(transport)) as client:
        yield SyncClient(portal, client)


@pytest.fixture(scope="module", params=["stdio", "http"])
def either(request: pytest.FixtureRequest) -> SyncClient:
    """The same checks over both transports."""
    found: SyncClient = request.getfixturevalue(request.param)
    return found


def run_cli(settings: IngestSettings, *args: str) -> subprocess.CompletedProcess[str]:
    """`ingestctl ARGS` as a real process with the module's settings."""
    return subprocess.run([INGESTCTL, *args], env=child_env(settings), text=True,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
