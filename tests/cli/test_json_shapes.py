"""docs/cli.md is the contract: every command has a section, and every `--json` shape it
documents (a ```json block after `<!-- shape: COMMAND -->`) is what the command prints."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from support.json_shapes import CLI_MD, documented_shapes, shape_errors

from ingestq.cli.main import app
from ingestq.config import IngestSettings
from ingestq.core import worker_registry
from ingestq.core.queue import Queue

from .conftest import Invoke, make_dead

# Shapes whose command needs more than this fixture has, checked where that is at hand.
CHECKED_ELSEWHERE = {"eval --via mcp --json": "tests/mcp_server/test_eval_via.py"}


def headings() -> list[str]:
    out = []
    for line in CLI_MD.read_text().splitlines():
        if line.startswith("### "):
            words = line[4:].split()
            first, rest = words[0], words[1:]
            second = rest[0] if rest and re.fullmatch(r"[a-z|]+", rest[0]) else None
            out += [f"{first} {s}" for s in second.split("|")] if second else [first]
    return out


def leaf_commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from leaf_commands(cmd, (*path, name))
        else:
            yield " ".join((*path, name))


def test_every_command_in_help_has_a_section_in_the_cli_doc() -> None:
    documented = set(headings())
    missing = sorted(set(leaf_commands(typer.main.get_command(app))) - documented)
    assert not missing, f"docs/cli.md has no section for {missing}"


def run_json(invoke: Invoke, *args: str, ok: tuple[int, ...] = (0,), **env: object) -> Any:
    result = invoke(*args, **env)
    assert result.exit_code in ok, (args, result.exit_code, result.stdout, result.stderr)
    lines = result.stdout.strip().splitlines()
    return json.loads(result.stdout) if args[0] != "tail" else json.loads(lines[0])


def stale_job(q: Queue) -> str:
    job = q.enqueue("noop", {}).id
    q.claim("w", 1, lease_seconds=0.05)
    time.sleep(0.1)
    return job


@pytest.fixture
def outputs(invoke: Invoke, live_queue: Queue, settings: IngestSettings,
            tmp_path: Path) -> dict[str, Any]:
    """The real output of every documented command, on a queue with something in each state."""
    q = live_queue
    out: dict[str, Any] = {}
    out["enqueue noop --json"] = run_json(invoke, "enqueue", "noop", "--json")
    (dead,) = make_dead(q, "fail")
    out["jobs show --json"] = run_json(invoke, "jobs", "show", dead, "--json")
    out["dead retry --dry-run --json"] = run_json(invoke, "dead", "retry", "--all", "--dry-run",
                                                  "--json")
    out["dead retry --json"] = run_json(invoke, "dead", "retry", dead, "--json")
    stale_job(q)
    out["clean --dry-run --json"] = run_json(invoke, "clean", "--dry-run", "--json")
    out["reaper --once --json"] = run_json(invoke, "reaper", "--once", "--json")
    worker_registry.publish(q, "h:1:ab", concurrency=2, kinds=["noop"], isolation="thread")
    out["workers --json"] = run_json(invoke, "workers", "--json")
    out["status --json"] = run_json(invoke, "status", "--json")
    out["doctor --json"] = run_json(invoke, "doctor", "--json", ok=(0, 1))
    out["config show --json"] = run_json(invoke, "config", "show", "--json")
    finished = q.enqueue("noop", {}).id
    for c in q.claim("w", 100, kinds=["noop"]).jobs:  # every pending noop, `finished` among them
        q.ack(c.id, c.token)
    out["tail JOB --json"] = run_json(invoke, "tail", finished, "--json", "--timeout", "1")
    out["verify --json"] = run_json(invoke, "verify", "--json", ok=(0, 1),
                                    pipeline__store__sqlite_path=str(tmp_path / "s.sqlite3"))
    out["eval --json"] = eval_json(invoke, settings, tmp_path)
    if not settings.redis.url:
        out["server status --json"] = run_json(invoke, "server", "status", "--json")
    return out


def eval_json(invoke: Invoke, settings: IngestSettings, tmp_path: Path) -> Any:
    """`eval --json` in process on one ingested page, a judgment naming a page that is not."""
    from ingestq.ingest.pipeline import Pipeline

    page, store = tmp_path / "docs" / "guide.md", str(tmp_path / "eval.sqlite3")
    page.parent.mkdir()
    page.write_text("# Guide\n\n## Install\n\nRun pip install to get it.\n")
    pipeline_settings = settings.pipeline.model_copy(update={
        "store": settings.pipeline.store.model_copy(update={"sqlite_path": store})})
    pipeline = Pipeline.open(pipeline_settings, Path(settings.data_dir))
    pipeline.ingest_file(str(page))
    pipeline.close()
    golden = tmp_path / "golden.jsonl"
    golden.write_text(json.dumps({"id": "q1", "type": "keyword", "query": "pip install",
                                  "judgments": [{"path": "guide.md", "anchor": "install",
                                                 "grade": 2},
                                                {"path": "gone.md", "grade": 1}]}) + "\n")
    return run_json(invoke, "eval", str(golden), "--json", pipeline__store__sqlite_path=store)


def test_every_documented_json_shape_matches_the_command_output(
        outputs: dict[str, Any], settings: IngestSettings) -> None:
    shapes = documented_shapes()
    checked = set(outputs)
    assert checked <= set(shapes), f"run but not documented: {sorted(checked - set(shapes))}"
    unchecked = set(shapes) - checked - set(CHECKED_ELSEWHERE) - (
        {"server status --json"} if settings.redis.url else set())
    assert not unchecked, f"documented but not run here: {sorted(unchecked)}"
    errors = [e for name in checked for e in shape_errors(shapes[name], outputs[name], name)]
    assert not errors, "\n".join(errors)
