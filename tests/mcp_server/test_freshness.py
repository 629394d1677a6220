"""Freshness over stdio: a long-running server sees what another process ingests, edits and
deletes on its next call, and a subscriber hears that a document changed."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import anyio
from mcp.shared.subscriptions import ResourceUpdated

from ingestq.config import IngestSettings
from ingestq.ingest.parsing.identity import document_id_for
from ingestq.ingest.pipeline import Pipeline

from .conftest import SyncClient, run_cli


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_the_same_session_sees_an_ingest_an_edit_and_a_delete_by_another_process(
        stdio: SyncClient, pipeline: Pipeline, docs: Path) -> None:
    nonce = "zq" + uuid.uuid4().hex[:10]
    assert not any(nonce in h["snippet"] for h in stdio.ok("search", query=nonce)["hits"])
    page = docs / "tutorial" / "fresh-page.md"
    page.write_text(f"# Fresh page\n\nThe word {nonce} appears here first.\n")
    before = _now()
    pipeline.ingest_file(str(page))  # this test process, not the server, writes the store

    first = stdio.ok("search", query=nonce, k=3)["hits"][0]
    assert first["path"] == str(page) and first["ingested_at"] >= before

    page.write_text(f"# Fresh page\n\nThe word {nonce} appears here, edited.\n")
    pipeline.ingest_file(str(page))
    edited = stdio.ok("get_section", section_id=first["section_id"])
    assert "edited" in edited["text"] and edited["content_hash"] != first["content_hash"]
    assert edited["ingested_at"] > first["ingested_at"]

    pipeline.delete_document(document_id_for(page))
    gone = stdio.call("get_section", section_id=first["section_id"])
    assert gone.is_error and "Search again" in gone.content[0].text
    assert not any(h["path"] == str(page) for h in stdio.ok("search", query=nonce)["hits"])


def test_a_subscriber_is_told_when_its_document_changes(
        stdio: SyncClient, pipeline: Pipeline, docs: Path) -> None:
    page = docs / "tutorial" / "watched.md"
    page.write_text("# Watched\n\nFirst version.\n")
    pipeline.ingest_file(str(page))
    uri = f"ingestq://document/{document_id_for(page)}"

    async def listen_then_edit() -> ResourceUpdated | None:
        async with stdio.client.listen(resource_subscriptions=[uri]) as subscription:
            page.write_text("# Watched\n\nSecond version.\n")
            await anyio.to_thread.run_sync(pipeline.ingest_file, str(page))
            with anyio.move_on_after(20):
                async for event in subscription:
                    if isinstance(event, ResourceUpdated) and event.uri == uri:
                        return event
        return None

    assert stdio.portal.call(listen_then_edit) is not None
    text = stdio.run("read_resource", uri).contents[0].text
    assert "Second version." in text


def test_a_file_ingested_through_the_tool_by_a_worker_is_found_by_the_next_search(
        stdio: SyncClient, docs: Path, mcp_settings: IngestSettings) -> None:
    nonce = "zw" + uuid.uuid4().hex[:10]
    page = docs / "tutorial" / "through-the-tool.md"
    page.write_text(f"# Through the tool\n\nThe word {nonce} came in through MCP.\n")
    enqueued = stdio.ok("ingest", paths=[str(page)])
    assert enqueued["files"] == 1 and enqueued["jobs"][0]["created"]
    worker = run_cli(mcp_settings, "worker", "--burst", "--kinds", "file")
    assert worker.returncode == 0, worker.stderr
    hits = stdio.ok("search", query=nonce, k=3)["hits"]
    assert hits and hits[0]["path"] == str(page)
