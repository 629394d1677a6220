"""`ingestctl eval --via mcp|http`: the golden set through the SDK's client, every ranking equal
to in-process search, replies cut by the token ceiling followed by cursor, token errors clear."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.json_shapes import documented_shapes, shape_errors
from support.promtool import free_port

from ingestq.config import IngestSettings
from ingestq.ingest.pipeline import Pipeline

from .conftest import child_env

pytestmark = pytest.mark.slow

# Judged by reading the sample's pages; the test is about parity, not about these scores.
GOLDEN = [
    ("body", "declare a request body with a Pydantic model", "tutorial/body.md"),
    ("query", "query parameters with default values", "tutorial/query-params.md"),
    ("path", "path parameters with types", "tutorial/path-params.md"),
    ("errors", "raise an HTTPException with a status code", "tutorial/handling-errors.md"),
    ("response", "filter the output data with response_model", "tutorial/response-model.md"),
]


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("golden") / "golden.jsonl"
    path.write_text("".join(json.dumps({"id": qid, "query": query, "type": "question",
                                        "judgments": [{"path": page, "grade": 2}]}) + "\n"
                            for qid, query, page in GOLDEN))
    return path


def run_eval(settings: IngestSettings, golden: Path, docs: Path, *args: str,
             **env: str) -> subprocess.CompletedProcess[str]:
    """`ingestctl eval` as its own process (it spawns `ingestctl mcp` itself for --via mcp)."""
    return subprocess.run(
        [sys.executable, "-m", "ingestq.cli", "eval", str(golden), "--root", str(docs),
         "--worst", str(len(GOLDEN)), *args],
        env={**child_env(settings), **env}, text=True, capture_output=True, timeout=240,
        stdin=subprocess.DEVNULL)


def report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def rankings(found: dict[str, Any]) -> dict[str, list[str]]:
    """path#anchor lists by query id (--worst shows every query of this small set)."""
    return {w["id"]: w["hits"] for w in found["worst"]}


def test_the_golden_set_ranks_the_same_in_process_over_stdio_and_over_http(
        mcp_settings: IngestSettings, pipeline: Pipeline, service: str, golden: Path,
        docs: Path) -> None:
    local = report(run_eval(mcp_settings, golden, docs, "--json"))
    stdio = report(run_eval(mcp_settings, golden, docs, "--json", "--via", "mcp"))
    http = report(run_eval(mcp_settings, golden, docs, "--json", "--via", "http",
                           "--url", service))
    assert local["via"] == "in-process" and local["transport"] is None
    assert len(rankings(local)) == len(GOLDEN) and all(rankings(local).values())
    assert rankings(stdio) == rankings(local) == rankings(http)
    for found, url in ((stdio, None), (http, service)):
        transport = found["transport"]
        assert transport["url"] == url
        assert transport["equal_rankings"] == transport["queries"] == len(GOLDEN)
        assert found["passed"] is True and found["overall"] == local["overall"]
        for query in transport["per_query"]:
            assert query["equal"] and query["first_difference"] is None
            assert query["tokens"] > 0 and query["calls"] == 1
            assert query["ms"] > 0 and query["in_process_ms"] > 0
        assert transport["tokens"]["max"] == max(q["tokens"] for q in transport["per_query"])
    errors = list(shape_errors(documented_shapes()["eval --via mcp --json"], stdio))
    assert not errors, "\n".join(errors)


def test_replies_cut_by_the_servers_token_ceiling_are_followed_to_the_whole_ranking(
        mcp_settings: IngestSettings, pipeline: Pipeline, golden: Path, docs: Path) -> None:
    ceiling = 300  # `ingestctl mcp` inherits the environment: its replies hold 2-4 hits
    found = report(run_eval(mcp_settings, golden, docs, "--json", "--via", "mcp",
                            INGESTQ_MCP__MAX_TOKENS=str(ceiling)))
    per_query = found["transport"]["per_query"]
    assert all(q["equal"] for q in per_query)
    assert any(q["calls"] > 1 for q in per_query)
    assert all(q["tokens"] <= ceiling * q["calls"] for q in per_query)


def test_via_http_without_or_with_a_wrong_token_url_or_server_is_a_clear_exit_2(
        mcp_settings: IngestSettings, pipeline: Pipeline, service: str, golden: Path,
        docs: Path) -> None:
    wrong = run_eval(mcp_settings, golden, docs, "--via", "http", "--url", service,
                     INGESTQ_SERVICE_TOKEN="not-the-token")
    assert wrong.returncode == 2, wrong.stderr
    assert "refused the bearer token (401)" in wrong.stderr
    assert "INGESTQ_SERVICE_TOKEN" in wrong.stderr and "not-the-token" not in wrong.stderr
    missing = run_eval(mcp_settings, golden, docs, "--via", "http", "--url", service,
                       INGESTQ_SERVICE_TOKEN="")
    assert missing.returncode == 2 and "needs the service's bearer token" in missing.stderr
    nobody = run_eval(mcp_settings, golden, docs, "--via", "http",
                      "--url", f"http://127.0.0.1:{free_port()}/mcp")
    assert nobody.returncode == 2 and "cannot reach the MCP endpoint" in nobody.stderr
    elsewhere = run_eval(mcp_settings, golden, docs, "--via", "http",
                         "--url", service.removesuffix("/mcp") + "/nowhere")
    assert elsewhere.returncode == 2 and "(404): the path is /mcp" in elsewhere.stderr
    assert not any(p.stdout for p in (wrong, missing, nobody, elsewhere))


def test_a_server_ranking_other_documents_is_reported_per_query_and_fails_the_run(
        mcp_settings: IngestSettings, pipeline: Pipeline, service: str, golden: Path,
        docs: Path, tmp_path: Path) -> None:
    # The eval's own store holds only the judged pages; the service's holds the whole sample,
    # so its rankings bring in sections the in-process search cannot return.
    store = tmp_path / "judged-only.sqlite3"
    judged = Pipeline.open(mcp_settings.pipeline.model_copy(update={
        "store": mcp_settings.pipeline.store.model_copy(update={"sqlite_path": str(store)})}),
        Path(mcp_settings.data_dir))
    for _, _, page in GOLDEN:
        judged.ingest_file(str(docs / page))
    judged.close()
    apart = {"INGESTQ_PIPELINE__STORE__SQLITE_PATH": str(store)}
    found = run_eval(mcp_settings, golden, docs, "--json", "--via", "http", "--url", service,
                     **apart)
    assert found.returncode == 1, found.stderr
    transport = json.loads(found.stdout)["transport"]
    differing = [q for q in transport["per_query"] if not q["equal"]]
    assert differing and transport["equal_rankings"] == len(GOLDEN) - len(differing)
    for q in differing:
        assert isinstance(q["first_difference"], int) and q["via"] != q["in_process"]
    assert json.loads(found.stdout)["passed"] is False
    text = run_eval(mcp_settings, golden, docs, "--via", "http", "--url", service, **apart)
    assert text.returncode == 1
    first = differing[0]
    assert (f"ranking differs {first['id']} at rank {first['first_difference']}: "
            f"in-process {first['in_process'] or '(no hit)'}") in text.stdout
