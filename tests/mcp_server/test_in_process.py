"""The server in this process with the SDK's in-process client: a store never created, Redis
down, and the server stack (Qdrant in qdrant-client's local mode) answering every read tool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from ingestq.config import IngestSettings, load_config
from ingestq.ingest.pipeline import Pipeline
from ingestq.mcp.freshness import changes
from ingestq.mcp.server import build_server

from .conftest import CORPUS

Scenario = Callable[[Client], Awaitable[None]]


def _settings(tmp_path: Path, **env: str) -> IngestSettings:
    return load_config(environ={"INGESTQ_DATA_DIR": str(tmp_path / "data"), **env}).ingest


def _run(settings: IngestSettings, scenario: Scenario) -> None:
    async def main() -> None:
        async with Client(build_server(settings)) as client:
            await scenario(client)

    anyio.run(main)


def _text(result: Any) -> str:
    return str(result.content[0].text)


def test_before_anything_is_ingested_tools_say_so_and_create_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, INGESTQ_REDIS_URL="redis://127.0.0.1:1/0")

    async def scenario(client: Client) -> None:
        for tool, args in (("search", {"query": "body"}), ("list_documents", {}),
                           ("get_document", {"path_or_id": "x.md"})):
            result = await client.call_tool(tool, args)
            assert result.is_error and "ingestctl ingest" in _text(result), _text(result)

    _run(settings, scenario)
    assert not (tmp_path / "data" / "ingest.sqlite3").exists()


def test_redis_down_is_a_tool_error_and_reading_the_documents_still_works(
        tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text("# Page\n\nLeases expire when a worker dies.\n")
    settings = _settings(tmp_path, INGESTQ_REDIS_URL="redis://127.0.0.1:1/0",
                         INGESTQ_MCP__ALLOW_INGEST="true", INGESTQ_PIPELINE__ROOTS=f"['{docs}']")
    Pipeline.open(settings.pipeline, Path(settings.data_dir)).ingest_file(str(docs / "page.md"))

    async def scenario(client: Client) -> None:
        for tool, args in (("queue_status", {}), ("ingest", {"paths": [str(docs)]})):
            down = await client.call_tool(tool, args)
            assert down.is_error and "Redis is unreachable" in _text(down), _text(down)
            found = await client.call_tool("search", {"query": "leases expire"})
            assert not found.is_error and found.structured_content["hits"]

    _run(settings, scenario)


def test_the_ingest_tool_is_off_unless_allowed(tmp_path: Path) -> None:
    async def scenario(client: Client) -> None:
        refused = await client.call_tool("ingest", {"paths": [str(tmp_path)]})
        assert refused.is_error and "allow_ingest" in _text(refused)

    _run(_settings(tmp_path), scenario)


def test_the_server_stack_answers_every_read_tool_from_qdrant_local_mode(tmp_path: Path) -> None:
    pytest.importorskip("qdrant_client")
    corpus = CORPUS
    settings = _settings(tmp_path, INGESTQ_PIPELINE__STORE__KIND="server",
                         INGESTQ_PIPELINE__STORE__QDRANT_PATH=str(tmp_path / "qdrant"))
    pipeline = Pipeline.open(settings.pipeline, Path(settings.data_dir))
    try:
        for name in ("body.md", "query-params.md", "path-params.md", "body-fields.md"):
            pipeline.ingest_file(str(corpus / "tutorial" / name))
        assert pipeline.vector_store is not None and pipeline.manifest.vectors(
            pipeline.embedder_name)[0] == []  # vectors live in Qdrant, not in SQLite

        async def scenario(client: Client) -> None:
            found = await client.call_tool("search", {"query": "request body model", "k": 5})
            hits = found.structured_content["hits"]
            assert any(h["path"].endswith("tutorial/body.md") for h in hits)
            section = await client.call_tool("get_section", {"section_id": hits[0]["section_id"]})
            assert not section.is_error and section.structured_content["text"]
            around = await client.call_tool("related", {"section_id": hits[0]["section_id"]})
            assert around.structured_content["source"] == "sqlite"  # no NEO4J_URI here
            outline = await client.call_tool("get_document",
                                             {"path_or_id": hits[0]["document_id"]})
            assert outline.structured_content["sections"]
            listed = await client.call_tool("list_documents", {})
            assert len(listed.structured_content["documents"]) == 4

        _run(settings, scenario)
    finally:
        pipeline.close()


def test_changes_name_every_document_written_since_the_watermark_or_deleted() -> None:
    events = changes({"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 1.0, "b": 2.0, "d": 2.0}, 1.5)
    uris = sorted(getattr(e, "uri", "") for e in events if hasattr(e, "uri"))
    assert uris == ["ingestq://document/b", "ingestq://document/c", "ingestq://document/d"]
    assert sum(1 for e in events if not hasattr(e, "uri")) == 1  # one list change
    assert changes({"a": 1.0}, {"a": 1.0}, 1.0) == []
    # the first look announces what was written since the server started, and no list change
    first = changes(None, {"a": 1.0, "b": 3.0}, 2.0)
    assert [getattr(e, "uri", None) for e in first] == ["ingestq://document/b"]


def test_related_from_neo4j_matches_the_sqlite_edges(tmp_path: Path) -> None:
    import os

    if not os.environ.get("NEO4J_URI"):
        pytest.skip("no Neo4j server: set NEO4J_URI (and NEO4J_PASSWORD) to run it")
    corpus = CORPUS
    settings = _settings(tmp_path, INGESTQ_PIPELINE__STORE__KIND="server",
                         INGESTQ_PIPELINE__STORE__QDRANT_PATH=str(tmp_path / "qdrant"),
                         INGESTQ_PIPELINE__STORE__NEO4J_URI=os.environ["NEO4J_URI"])
    pipeline = Pipeline.open(settings.pipeline, Path(settings.data_dir))
    try:
        for name in ("body.md", "body-fields.md", "body-nested-models.md"):
            pipeline.ingest_file(str(corpus / "tutorial" / name), force=True)

        async def scenario(client: Client) -> None:
            found = await client.call_tool("search", {"query": "request body model", "k": 3})
            section_id = found.structured_content["hits"][0]["section_id"]
            graph = (await client.call_tool("related", {"section_id": section_id}))
            assert graph.structured_content["source"] == "neo4j"
            from ingestq.mcp.library import Library
            from ingestq.mcp.reading import Reader

            local = Reader(Library(settings), None, 8000)._from_sqlite(  # type: ignore[arg-type]
                Library(settings).section_row(section_id))
            got = graph.structured_content
            assert got["parent"] == (local.parent.model_dump() if local.parent else None)
            assert {s["section_id"] for s in got["siblings"]} == {
                s.section_id for s in local.siblings}
            assert {link["href"] for link in got["links_out"]} == {
                link.href for link in local.links_out}

        _run(settings, scenario)
    finally:
        pipeline.close()
