"""verify notices a document whose record was deleted (its sections and chunks orphaned) and
`verify --repair` on the embedded default with no worker re-ingests it here and exits 0."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support.procs import env_for
from support.settings import fast_settings

from ingestq.config import IngestSettings


@pytest.mark.slow
def test_an_orphaned_document_is_reported_and_repaired_here_with_exit_zero(
        base_settings: IngestSettings, tmp_path: Path) -> None:
    if base_settings.redis.url:
        pytest.skip("verify --repair runs local workers on the embedded default only")
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("guide", "other"):
        (docs / f"{name}.md").write_text(f"# {name}\n\n## Part\n\nText about {name}.\n")
    db = tmp_path / "store.sqlite3"
    env = env_for(fast_settings(base_settings), pipeline__store__sqlite_path=str(db))

    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ingestq.cli", *args], env=env,
                              capture_output=True, text=True, timeout=180)

    assert ctl("ingest", str(docs), "--json").returncode == 0
    victim = str(docs / "other.md")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM documents WHERE source_path = ?", (victim,))
    found = ctl("verify", "--json")
    assert found.returncode == 1, found.stderr
    report = json.loads(found.stdout)
    (drift,) = report["drift"]
    assert (drift["kind"], drift["store"], drift["source_path"]) == ("orphan", "sqlite", victim)
    assert report["reingest_paths"] == [victim]

    repaired = ctl("verify", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "1 re-ingest job(s) enqueued: 1 done, 0 dead" in repaired.stdout
    assert ctl("verify").returncode == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM documents WHERE source_path = ?",
                            (victim,)).fetchone() == (1,)
