"""Collections and versions through the SDK's client over stdio: the sample ingested as fastapi
0.1, then with one section changed as fastapi 0.2; each version answers with its own text, no
version with the newest, and every hit, section and document names its labels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestq.config import IngestSettings
from ingestq.ingest.parsing.identity import Labels
from ingestq.ingest.pipeline import Pipeline

from .conftest import SAMPLE, SyncClient

OLD, NEW = Labels("fastapi", "0.1"), Labels("fastapi", "0.2")
NONCE = "quetzalcoatlus"  # in the changed section of 0.2 only
HEADING = "## Import Pydantic's `BaseModel` { #import-pydantics-basemodel }\n"


@pytest.fixture(scope="module")
def pipeline(mcp_settings: IngestSettings, docs: Path) -> Iterator[Pipeline]:
    """The module's store: the sample as 0.1, then as 0.2 with one section changed."""
    opened = Pipeline.open(mcp_settings.pipeline, Path(mcp_settings.data_dir))
    for name in SAMPLE:
        opened.ingest_file(str(docs / name), labels=OLD)
    body = docs / "tutorial/body.md"
    text = body.read_text()
    assert HEADING in text
    body.write_text(text.replace(HEADING, f"{HEADING}\nThe {NONCE} release imports it lazily.\n"))
    for name in SAMPLE:
        opened.ingest_file(str(docs / name), labels=NEW)
    yield opened
    opened.close()


def test_each_version_answers_with_its_own_text_and_no_version_with_the_newest(
        stdio: SyncClient) -> None:
    new = stdio.ok("search", query=f"{NONCE} release", k=5, version="0.2")["hits"]
    assert new[0]["path"].endswith("tutorial/body.md") and NONCE in new[0]["snippet"]
    assert {(h["collection"], h["version"]) for h in new} == {("fastapi", "0.2")}
    old = stdio.ok("search", query=f"{NONCE} release", k=5, version="0.1")["hits"]
    assert all(h["version"] == "0.1" and NONCE not in h["snippet"] for h in old)
    assert stdio.ok("search", query=f"{NONCE} release", k=5)["hits"] == new
    general = stdio.ok("search", query="import Pydantic BaseModel", k=10)["hits"]
    assert general and {h["version"] for h in general} == {"0.2"}
    both = stdio.ok("search", query="import Pydantic BaseModel", k=10, version="0.*")["hits"]
    assert {h["version"] for h in both} == {"0.1", "0.2"}
    assert {h["version"] for h in stdio.ok("search", query="import Pydantic BaseModel", k=10,
                                           collection="fastapi", version="0.1")["hits"]} == {"0.1"}


def test_sections_and_documents_name_their_version_in_data_and_text(stdio: SyncClient) -> None:
    hit = stdio.ok("search", query="import Pydantic BaseModel", k=1, version="0.1")["hits"][0]
    section = stdio.ok("get_section", section_id=hit["section_id"])
    assert (section["collection"], section["version"]) == ("fastapi", "0.1")
    document = stdio.ok("get_document", path_or_id=hit["document_id"])
    assert (document["collection"], document["version"]) == ("fastapi", "0.1")
    result = stdio.call("search", query=f"{NONCE} release", k=1)
    assert "fastapi 0.2" in result.content[0].text
    # Both versions hold the path: asked by path, the server names both ids to choose from.
    ambiguous = stdio.call("get_document", path_or_id="tutorial/body.md")
    assert ambiguous.is_error and "0.1" in ambiguous.content[0].text and \
        "0.2" in ambiguous.content[0].text


def test_list_documents_filters_and_pages_through_both_versions_of_each_path(
        stdio: SyncClient) -> None:
    newest = stdio.ok("list_documents", limit=50)["documents"]
    assert len(newest) == len(SAMPLE) and {d["version"] for d in newest} == {"0.2"}
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = stdio.ok("list_documents", limit=7, version="*", cursor=cursor)
        seen += [(d["path"], d["version"]) for d in page["documents"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 2 * len(SAMPLE)
    assert {v for _, v in seen} == {"0.1", "0.2"}
    old = stdio.ok("list_documents", version="0.1", path_prefix=seen[0][0])["documents"]
    assert [(d["path"], d["version"]) for d in old] == [(seen[0][0], "0.1")]


def test_a_selection_naming_nothing_says_what_is_held(stdio: SyncClient) -> None:
    result = stdio.call("search", query="body", collection="django")
    assert result.is_error and "fastapi: 0.2, 0.1" in result.content[0].text
    bad = stdio.call("list_documents", version="0.*.1")
    assert bad.is_error and "reserved" in bad.content[0].text


def test_the_published_schemas_carry_the_labels(stdio: SyncClient) -> None:
    tools = {t.name: t for t in stdio.run("list_tools").tools}
    for tool, model in (("search", "Hit"), ("list_documents", "DocumentSummary")):
        schema = tools[tool].output_schema
        assert schema is not None
        assert {"collection", "version"} <= set(schema["$defs"][model]["properties"])
        assert {"collection", "version"} <= set(tools[tool].input_schema["properties"])
    for tool in ("get_section", "get_document"):
        schema = tools[tool].output_schema
        assert schema is not None and {"collection", "version"} <= set(schema["properties"])
