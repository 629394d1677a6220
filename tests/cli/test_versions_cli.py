"""`ingestctl ingest --collection --version` as real processes: one tree as two versions, each
searched alone, unchanged files skipped per version, verify content with both."""

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
def test_one_tree_ingested_as_two_versions_through_the_cli(base_settings: IngestSettings,
                                                           tmp_path: Path) -> None:
    if base_settings.redis.url:
        pytest.skip("ingest runs its local workers on the embedded default only")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Alpha\n\n## Setup\n\nInstall the zanzibar toolkit.\n")
    (docs / "b.md").write_text("# Beta\n\nWorkers hold leases.\n")
    env = env_for(fast_settings(base_settings),
                  pipeline__store__sqlite_path=str(tmp_path / "store.sqlite3"))

    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ingestq.cli", *args], env=env,
                              capture_output=True, text=True, timeout=180)

    def ingest(version: str) -> dict[str, int]:
        done = ctl("ingest", str(docs), "--collection", "demo", "--version", version, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def search(query: str, *args: str) -> list[tuple[str, str]]:
        found = ctl("search", query, "--local", "--json", *args)
        assert found.returncode == 0, found.stderr
        return [(h["version"], h["snippet"]) for h in json.loads(found.stdout)]

    assert ingest("1")["done"] == 2
    (docs / "a.md").write_text("# Alpha\n\n## Setup\n\nInstall the wombat toolkit.\n")
    second = ingest("2")
    assert (second["unchanged"], second["done"]) == (0, 2)  # b.md is new in version 2
    assert ingest("2")["unchanged"] == 2

    assert [v for v, s in search("zanzibar toolkit", "--version", "1")] == ["1"]
    assert all("wombat" not in s for _, s in search("wombat toolkit", "--version", "1"))
    newest = search("wombat toolkit")
    assert newest[0][0] == "2" and "wombat" in newest[0][1]
    assert {v for v, _ in search("leases", "--version", "*")} == {"1", "2"}
    assert search("leases", "--collection", "other") == []

    verified = ctl("verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["checked_documents"] == 4

    bad = ctl("ingest", str(docs), "--version", "2*")
    assert bad.returncode == 2 and "reserved" in bad.stderr
    bad = ctl("watch", str(docs), "--collection", "a\tb")
    assert bad.returncode == 2 and "control character" in bad.stderr

    # watch: unchanged as version 2, new as version 3.
    for version, expected in (("2", "(not enqueued)"), ("3", "\nenqueued ")):
        out = tmp_path / f"watch-{version}.out"
        with open(out, "w") as stdout:
            watch = subprocess.Popen([sys.executable, "-m", "ingestq.cli", "watch",
                                      str(docs), "--collection", "demo", "--version", version,
                                      "--settle", "0.2", "--interval", "0.1"], env=env,
                                     stdout=stdout, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda out=out, expected=expected: ("\n" + out.read_text()).count(
                expected) == 2, 60, f"watch --version {version}")
        finally:
            watch.terminate()
            watch.wait(10)
