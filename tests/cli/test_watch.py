"""`watch` uses the same unchanged check as `ingest`: starting it on an ingested tree enqueues
nothing, and an edited file is enqueued once it settles."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.procs import env_for, wait_for
from support.settings import fast_settings

from ingestq.config import IngestSettings


@pytest.mark.slow
def test_watch_skips_unchanged_files_and_enqueues_an_edited_one(
        base_settings: IngestSettings, tmp_path: Path) -> None:
    if base_settings.redis.url:
        pytest.skip("ingest runs its local workers on the embedded default only")
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("a", "b", "c"):
        (docs / f"{name}.md").write_text(f"# {name}\n\nText about {name}.\n")
    env = env_for(fast_settings(base_settings),
                  pipeline__store__sqlite_path=str(tmp_path / "store.sqlite3"))
    ingested = subprocess.run([sys.executable, "-m", "ingestq.cli", "ingest", str(docs),
                               "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["done"] == 3

    out = tmp_path / "watch.out"
    with open(out, "w") as stdout:
        watch = subprocess.Popen([sys.executable, "-m", "ingestq.cli", "watch", str(docs),
                                  "--settle", "0.2", "--interval", "0.1"], env=env,
                                 stdout=stdout, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: out.read_text().count("(not enqueued)") == 3, 60,
                 "the first settled scan")
        (docs / "b.md").write_text("# b\n\nText about b, edited.\n")
        wait_for(lambda: "\nenqueued " in out.read_text(), 60, "the edited file to be enqueued")
    finally:
        watch.terminate()
        watch.wait(10)
    lines = out.read_text().splitlines()
    assert [line for line in lines if line.startswith("enqueued")] == [
        next(line for line in lines if line.startswith(f"enqueued {docs / 'b.md'}"))]
