"""`ingestctl eval` end to end over a sample of the FastAPI docs, and the default search's
regression check on a fixed subset of the golden set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.corpus import FASTAPI_EN
from typer.testing import CliRunner

from ingestq.cli.main import app
from ingestq.ingest.eval_local import known_targets, pipeline_search
from ingestq.ingest.eval_run import load_golden, run_eval
from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.search import search
from ingestq.ingest.settings import PipelineSettings

REPO = Path(__file__).resolve().parents[2]
EN = FASTAPI_EN
GOLDEN = REPO / "bench" / "golden" / "fastapi-en.jsonl"
SAMPLE = ["tutorial/cors.md", "tutorial/background-tasks.md", "tutorial/body.md",
          "advanced/middleware.md"]
SMALL_GOLDEN = [
    {"id": "cors", "query": "CORS middleware allow origins", "type": "keyword",
     "judgments": [{"path": "tutorial/cors.md", "anchor": "use-corsmiddleware", "grade": 2}]},
    {"id": "gzip", "query": "GZipMiddleware", "type": "keyword",
     "judgments": [{"path": "advanced/middleware.md", "anchor": "gzipmiddleware", "grade": 2}]},
    {"id": "bg", "query": "background tasks", "type": "question",
     "judgments": [{"path": "tutorial/background-tasks.md", "grade": 2},
                   {"path": "tutorial/gone.md", "grade": 1},
                   {"path": "tutorial/body.md", "anchor": "no-such-anchor", "grade": 1}]},
    # shares no word with any page: nothing comes back, so the mean stays below 1
    {"id": "none", "query": "zyzzyva quux", "type": "question",
     "judgments": [{"path": "tutorial/body.md", "grade": 2}]},
]

@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    pipeline = Pipeline.open(PipelineSettings(), data)
    for page in SAMPLE:
        pipeline.ingest_file(str(EN / page))
    return data


def run_eval_cli(data_dir: Path, golden: Path, *args: str) -> tuple[int, dict]:
    env = {k: None for k in os.environ if k.startswith("INGESTQ_")}
    env["INGESTQ_DATA_DIR"] = str(data_dir)
    result = CliRunner().invoke(app, ["eval", str(golden), "--json", *args], env=env)
    return result.exit_code, json.loads(result.stdout)


def test_eval_reports_metrics_and_unknown_judgments_and_gates_on_min_ndcg(data_dir, tmp_path):
    golden = tmp_path / "golden.jsonl"
    golden.write_text("".join(json.dumps(q) + "\n" for q in SMALL_GOLDEN))
    code, report = run_eval_cli(data_dir, golden, "--min-ndcg", "0.5")
    assert code == 0 and report["passed"] is True
    assert report["root"] == str(EN.resolve()) and report["queries"] == 4
    page = report["overall"]["page"]["ndcg"]
    assert 0.5 <= page < 1.0  # "none" scores 0, the others find their pages
    assert set(report["by_type"]) == {"keyword", "question"}
    assert report["by_type"]["keyword"]["section"]["success_at_1"] == 1.0
    assert {(u["path"], u["reason"]) for u in report["unknown_judgments"]} == {
        ("tutorial/gone.md", "no such page"), ("tutorial/body.md", "no such anchor")}
    assert report["worst"][0]["id"] == "none" and report["worst"][0]["hits"] == []
    assert report["latency_ms"]["p95"] >= report["latency_ms"]["p50"] > 0

    code, report = run_eval_cli(data_dir, golden, "--min-ndcg", "0.99")
    assert code == 1 and report["passed"] is False


def test_the_default_search_is_no_worse_than_its_lexical_ranking_and_beats_equal_weights(tmp_path):
    """Default embedder only; the subset is the golden queries judged on tutorial/ pages."""
    queries = [q for q in load_golden(GOLDEN)
               if all(j.path.startswith("tutorial/") for j in q.judgments)]
    pages = sorted({j.path for q in queries for j in q.judgments})
    assert len(queries) >= 25
    pipeline = Pipeline.open(PipelineSettings(), tmp_path / "data")
    for page in pages:
        pipeline.ingest_file(str(EN / page))
    known = known_targets(pipeline, EN)

    def page_ndcg(vector_weight: float | None) -> float:
        fn = pipeline_search(pipeline, EN,
                             lambda p, q, k: search(p, q, k, vector_weight=vector_weight))
        report = run_eval(queries, fn, k=10, known=known)
        assert not report.unknown
        return report.overall["page"].ndcg

    default, lexical, equal_fusion = page_ndcg(None), page_ndcg(0.0), page_ndcg(0.5)
    assert default >= lexical
    assert default > equal_fusion
    pipeline.close()


@pytest.mark.parametrize(("args", "message"), [
    (["--via", "carrier-pigeon"], "--via must be one of in-process, mcp, http"),
    (["--url", "http://127.0.0.1:1/mcp"], "--url goes with --via http"),
    (["--via", "mcp", "--k", "60"], "at most 50 hits"),
])
def test_a_bad_via_is_a_usage_error_before_anything_is_opened(tmp_path, args, message):
    golden = tmp_path / "golden.jsonl"
    golden.write_text(json.dumps(SMALL_GOLDEN[0]) + "\n")
    code, report = run_eval_cli(tmp_path / "no-data", golden, *args)
    assert code == 2 and message in report["error"]
    assert not (tmp_path / "no-data").exists()
