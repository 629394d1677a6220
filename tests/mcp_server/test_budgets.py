"""Token budgets and typed results over stdio: replies fit max_tokens by the documented counter,
cursors continue without repeats and join to the unbudgeted answer, and the typed result is sent
once (structured content valid against the published schema, text a short Markdown rendering)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from ingestq.config import IngestSettings
from ingestq.mcp.budget import counter_for

from .conftest import SyncClient

QUERY = "how do I declare query and path parameters with types"


def _count(settings: IngestSettings, text: str) -> int:
    return counter_for(settings.pipeline.embedder).count(text)


@pytest.mark.parametrize("k", [5, 50])
@pytest.mark.parametrize("max_tokens", [200, 500, 2000])
def test_search_pages_fit_the_budget_and_join_to_the_unbudgeted_hits(
        stdio: SyncClient, mcp_settings: IngestSettings, k: int, max_tokens: int) -> None:
    whole = stdio.ok("search", query=QUERY, k=k)
    assert not whole["truncated"] and len(whole["hits"]) > 3
    seen: list[str] = []
    cursor = None
    for _ in range(k + 1):
        result = stdio.call("search", query=QUERY, k=k, max_tokens=max_tokens, cursor=cursor)
        page: dict[str, Any] = result.structured_content or {}
        text = result.content[0].text
        assert _count(mcp_settings, text) <= max_tokens, text
        assert page["tokens"] == _count(mcp_settings, text)
        seen += [hit["section_id"] for hit in page["hits"]]
        assert page["truncated"] == (page["next_cursor"] is not None)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [hit["section_id"] for hit in whole["hits"]]


def test_a_tight_budget_shrinks_snippets_before_it_drops_hits(stdio: SyncClient) -> None:
    whole = stdio.ok("search", query=QUERY, k=5)
    tight = stdio.ok("search", query=QUERY, k=5, max_tokens=500)
    assert tight["truncated"] and tight["omitted"] == 5 - len(tight["hits"])
    shown = tight["hits"][0]["snippet"]
    assert len(shown) < len(whole["hits"][0]["snippet"])


@pytest.mark.parametrize("max_tokens", [200, 500])
def test_a_long_section_comes_in_parts_that_join_to_its_text(
        stdio: SyncClient, mcp_settings: IngestSettings, max_tokens: int) -> None:
    outline = [entry for doc in stdio.ok("list_documents")["documents"]
               for entry in stdio.ok("get_document", path_or_id=doc["document_id"])["sections"]]
    longest = max(outline, key=lambda entry: entry["token_count"])
    assert longest["token_count"] > 2 * max_tokens, "the sample holds a long section"
    whole = stdio.ok("get_section", section_id=longest["section_id"])
    assert whole["next_part"] is None
    parts, part = [], 0
    while True:
        result = stdio.call("get_section", section_id=longest["section_id"],
                            max_tokens=max_tokens, part=part)
        found: dict[str, Any] = result.structured_content or {}
        assert not result.is_error and _count(mcp_settings, result.content[0].text) <= max_tokens
        parts.append(found["text"])
        if found["next_part"] is None:
            break
        assert found["next_part"] > part
        part = found["next_part"]
    assert len(parts) > 1 and "".join(parts) == whole["text"]


def test_an_outline_is_cut_at_whole_headings_and_continues_by_cursor(
        stdio: SyncClient, mcp_settings: IngestSettings) -> None:
    whole = stdio.ok("get_document", path_or_id="tutorial/body.md")["sections"]
    joined: list[dict[str, Any]] = []
    cursor = None
    while True:
        result = stdio.call("get_document", path_or_id="tutorial/body.md", max_tokens=200,
                            cursor=cursor)
        page: dict[str, Any] = result.structured_content or {}
        assert _count(mcp_settings, result.content[0].text) <= 200
        joined += page["sections"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert joined == whole


def test_a_cursor_of_another_query_is_refused_with_a_hint(stdio: SyncClient) -> None:
    first = stdio.ok("search", query=QUERY, k=20, max_tokens=200)
    other = stdio.call("search", query="something else", k=20, cursor=first["next_cursor"])
    assert other.is_error and "same arguments" in other.content[0].text


def test_every_result_validates_against_its_schema_and_the_text_is_not_the_json(
        stdio: SyncClient) -> None:
    schemas = {tool.name: tool.output_schema for tool in stdio.run("list_tools").tools}
    hit = stdio.ok("search", query=QUERY, k=3)["hits"][0]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("search", {"query": QUERY, "k": 3}),
        ("get_section", {"section_id": hit["section_id"]}),
        ("get_document", {"path_or_id": hit["document_id"]}),
        ("list_documents", {"limit": 5}),
        ("related", {"section_id": hit["section_id"]}),
        ("queue_status", {}),
    ]
    for tool, arguments in calls:
        result = stdio.call(tool, **arguments)
        assert not result.is_error and result.structured_content is not None
        jsonschema.validate(result.structured_content, schemas[tool])
        assert len(result.content) == 1
        text = result.content[0].text
        assert '"section_id":' not in text and '"hits":' not in text
        assert json.dumps(result.structured_content) not in text
    search_reply = stdio.call("search", query=QUERY, k=3)
    assert all(h["url"] in search_reply.content[0].text
               for h in (search_reply.structured_content or {})["hits"])
