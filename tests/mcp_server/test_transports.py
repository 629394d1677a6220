"""The MCP server over stdio (`ingestctl mcp`) and streamable HTTP (`ingestctl serve`), driven by
the SDK's own client: tools, resources, search, sections, graph, queue and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from ingestq.config import IngestSettings

from .conftest import SyncClient, run_cli

TOOLS = {"search", "get_section", "get_document", "list_documents", "related", "queue_status",
         "ingest"}


def test_the_server_lists_every_tool_with_an_output_schema_and_the_document_template(
        either: SyncClient) -> None:
    tools = either.run("list_tools").tools
    assert {t.name for t in tools} == TOOLS
    assert all(t.output_schema and t.description for t in tools)
    read_only = {t.name for t in tools if t.annotations and t.annotations.read_only_hint}
    assert read_only == TOOLS - {"ingest"}
    templates = either.run("list_resource_templates").resource_templates
    assert [t.uri_template for t in templates] == ["ingestq://document/{document_id}"]


def test_search_finds_the_sample_with_the_fields_an_assistant_needs(either: SyncClient) -> None:
    found = either.ok("search", query="declare a request body with a Pydantic model", k=5)
    hits = found["hits"]
    assert 1 <= len(hits) <= 5 and [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert any(h["path"].endswith("tutorial/body.md") for h in hits)
    for hit in hits:
        assert hit["url"] == f"{hit['path']}#{hit['anchor']}"
        assert hit["section_id"] and hit["document_id"] and hit["heading_path"]
        assert hit["ingested_at"].endswith("Z") and len(hit["content_hash"]) == 64


def test_search_ranks_as_the_in_process_search_function(either: SyncClient,
                                                         pipeline: object) -> None:
    from ingestq.ingest.search import search

    for query in ("query parameters", "path parameters with types", "raise an HTTPException"):
        expected = [r.section_id for r in search(pipeline, query, 10)]  # type: ignore[arg-type]
        got = [h["section_id"] for h in either.ok("search", query=query, k=10)["hits"]]
        assert got == expected


def test_a_hit_opens_with_its_neighbours_and_related_walks_from_it(either: SyncClient) -> None:
    hit = either.ok("search", query="request body path parameters", k=1)["hits"][0]
    section = either.ok("get_section", section_id=hit["section_id"])
    assert section["section_id"] == hit["section_id"] and section["text"].strip()
    assert section["parent"] is not None and section["previous"] is not None
    assert section["parent"]["section_id"] != section["section_id"]
    around = either.ok("related", section_id=hit["section_id"])
    assert around["source"] == "sqlite" and around["parent"] == section["parent"]
    assert section["previous"]["section_id"] in {s["section_id"] for s in around["siblings"]}
    # the parent opens too: the ids the server hands out are ids it accepts
    assert either.ok("get_section", section_id=section["parent"]["section_id"])["children"]


def test_related_follows_links_between_documents(either: SyncClient) -> None:
    linked = None
    for doc in either.ok("list_documents", limit=50)["documents"]:
        outline = either.ok("get_document", path_or_id=doc["document_id"])
        for entry in outline["sections"]:
            around = either.ok("related", section_id=entry["section_id"])
            if any(link["target_path"] for link in around["links_out"]):
                linked = around
                break
        if linked:
            break
    assert linked is not None, "the sample links its pages to each other"
    target = next(link for link in linked["links_out"] if link["target_path"])
    back = either.ok("related", section_id=either.ok(
        "get_document", path_or_id=target["target_document_id"])["sections"][0]["section_id"])
    assert linked["section_id"] in {s["section_id"] for s in back["links_in"]}


def test_a_document_reads_as_an_outline_and_as_a_markdown_resource(either: SyncClient,
                                                                  docs: Path) -> None:
    outline = either.ok("get_document", path_or_id="tutorial/body.md")
    assert outline["path"] == str(docs / "tutorial/body.md")
    assert outline["section_count"] == len(outline["sections"]) > 3
    assert all("text" not in entry for entry in outline["sections"])
    resource = either.run("read_resource", f"ingestq://document/{outline['document_id']}")
    text = resource.contents[0].text
    assert resource.contents[0].mime_type == "text/markdown"
    assert "# Request Body" in text and "BaseModel" in text


def test_list_documents_pages_through_every_document_once(either: SyncClient) -> None:
    everything = [d["path"] for d in either.ok("list_documents", limit=200)["documents"]]
    paged, cursor = [], None
    while True:
        page = either.ok("list_documents", limit=3, cursor=cursor)
        paged += [d["path"] for d in page["documents"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == everything == sorted(everything) and len(everything) >= 10
    tutorial = either.ok("list_documents", path_prefix=str(Path(everything[0]).parent))
    assert tutorial["documents"] and all(
        d["path"].startswith(str(Path(everything[0]).parent)) for d in tutorial["documents"])


def test_queue_status_says_what_ingestctl_status_says(either: SyncClient,
                                                       mcp_settings: IngestSettings) -> None:
    status = either.ok("queue_status")
    cli = run_cli(mcp_settings, "status", "--json")
    assert cli.returncode == 0, cli.stderr
    expected = json.loads(cli.stdout)
    assert status["queue"] == expected["queue"] == mcp_settings.queue.name
    assert status["counts"] == expected["counts"]
    assert status["dead"] == expected["counts"]["dead"]


def test_the_ingest_tool_enqueues_inside_the_roots_and_refuses_outside(
        either: SyncClient, docs: Path, mcp_settings: IngestSettings) -> None:
    done = either.ok("ingest", paths=[str(docs / "tutorial/body.md")])
    assert done["files"] == 1 and done["jobs"][0]["path"] == str(docs / "tutorial/body.md")
    outside = either.call("ingest", paths=["/etc/passwd"])
    assert outside.is_error and "outside the configured roots" in outside.content[0].text
    assert either.ok("queue_status")["counts"]["pending"] >= 1  # the next call works


BAD_CALLS = [
    ("get_section", {"section_id": "0" * 32}, "Search again"),
    ("get_document", {"path_or_id": "no/such/page.md"}, "list_documents"),
    ("search", {"query": ""}, "say what to look for"),
    ("search", {"query": "body " * 2000}, "key words"),
    ("search", {"query": "body", "k": 0}, "between 1 and 50"),
    ("search", {"query": "body", "k": 10_000}, "between 1 and 50"),
    ("search", {"query": "body", "cursor": "not-a-cursor"}, "omit cursor"),
    ("search", {"query": "body", "max_tokens": 5}, "at least 200"),
    ("get_section", {"section_id": "x", "context": "everything"}, "'neighbours' or 'none'"),
]


@pytest.mark.parametrize(("tool", "arguments", "hint"), BAD_CALLS,
                         ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(BAD_CALLS)])
def test_bad_input_is_a_tool_error_that_says_what_to_do_and_the_next_call_works(
        either: SyncClient, tool: str, arguments: dict[str, object], hint: str) -> None:
    result = either.call(tool, **arguments)
    assert result.is_error and hint in result.content[0].text, result.content
    assert either.ok("search", query="request body", k=1)["hits"]


def test_http_without_the_token_or_with_a_wrong_one_is_refused(service: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    assert httpx.post(service, json=body).status_code == 401
    wrong = httpx.post(service, json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "bearer token" in wrong.json()["error"]


def test_the_sdk_client_with_a_wrong_token_cannot_connect(portal: object, service: str) -> None:
    import anyio

    async def connect() -> None:
        http_client = httpx2.AsyncClient(headers={"Authorization": "Bearer wrong"})
        async with Client(streamable_http_client(service, http_client=http_client)):
            pass

    with pytest.raises(ExceptionGroup) as refused:  # the SDK wraps the 401 in task groups
        anyio.run(connect)
    assert refused.group_contains(MCPError)
