"""Files are checked before they are read, and opened so that no race leads outside the roots."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
from pathlib import Path

import pytest
from bounded import within
from procs import env_for, ingestctl, stop

from ingestq.config import IngestSettings
from ingestq.errors import PermanentError
from ingestq.ingest.files import checksum
from ingestq.ingest.parsing.parse import ParseOptions, parse_file
from ingestq.ingest.parsing.reader import read_source
from ingestq.ingest.pipeline import Pipeline
from ingestq.ingest.settings import PipelineSettings


def test_the_enqueue_checksum_of_a_fifo_is_none_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "x.md"
    os.mkfifo(fifo)
    assert within(5, lambda: checksum(str(fifo))) is None


def test_the_enqueue_checksum_refuses_a_path_outside_the_roots_unread(tmp_path: Path) -> None:
    assert within(5, lambda: checksum("/dev/zero", [str(tmp_path)])) is None


def test_one_checksum_serves_enqueue_skip_unchanged_and_the_stored_document(
    tmp_path: Path,
) -> None:
    raw = "# Título\n\ncontent\n".encode()
    path = tmp_path / "doc.md"
    path.write_bytes(raw)
    want = hashlib.sha256(raw).hexdigest()
    assert checksum(str(path), [str(tmp_path)]) == want
    assert parse_file(path, ParseOptions(roots=(str(tmp_path),))).checksum == want


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    root = tmp_path / "root"
    root.mkdir()
    settings = PipelineSettings(roots=[str(root)])
    p = Pipeline.open(settings, tmp_path / "data")
    yield p  # type: ignore[misc]
    p.close()


def test_a_file_job_for_dev_zero_outside_the_roots_is_refused_before_any_read(
    pipeline: Pipeline,
) -> None:
    with pytest.raises(PermanentError, match="outside the allowed roots"):
        within(10, lambda: pipeline.ingest_file("/dev/zero"))


def test_a_fifo_inside_the_roots_is_refused_as_not_a_regular_file(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    fifo = tmp_path / "root" / "pipe.md"
    os.mkfifo(fifo)
    with pytest.raises(PermanentError, match="not a regular file"):
        within(10, lambda: pipeline.ingest_file(str(fifo)))


def test_the_pipeline_skips_an_unchanged_file_by_the_same_checksum(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    path = tmp_path / "root" / "doc.md"
    path.write_text("# Doc\n\nbody text\n")
    first = pipeline.ingest_file(str(path))
    again = pipeline.ingest_file(str(path))
    assert (first.status, again.status, again.reason) == ("written", "skipped", "unchanged")
    stored = pipeline.manifest.stored_checksum(first.document_id)
    assert stored is not None and stored[0] == checksum(str(path))


SWAPPER = textwrap.dedent(
    """
    import os, sys
    root, outside = sys.argv[1], sys.argv[2]
    sub, parked = os.path.join(root, "sub"), os.path.join(root, "sub.parked")
    while True:
        os.rename(sub, parked)
        os.symlink(outside, sub)
        os.unlink(sub)
        os.rename(parked, sub)
    """
)


@pytest.mark.slow
def test_a_directory_swapped_for_a_symlink_in_a_loop_never_leads_outside_the_roots(
    tmp_path: Path,
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "sub" / "doc.md").write_text("# Inside\n\ninside text\n")
    (outside / "doc.md").write_text("# Outside\n\nSECRET outside text\n")
    target = str(root / "sub" / "doc.md")
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(root), str(outside)])
    outcomes = {"inside": 0, "refused": 0}
    try:
        for _ in range(3000):
            try:
                text = read_source(target, roots=(str(root),), max_file_bytes=1024).text
            except PermanentError:
                outcomes["refused"] += 1
                continue
            assert "SECRET" not in text, f"read a file outside the roots after {outcomes}"
            outcomes["inside"] += 1
    finally:
        swapper.kill()
        swapper.wait(10)
    # Both sides of the race happened, so the loop really interleaved with the swaps.
    assert outcomes["inside"] > 0 and outcomes["refused"] > 0, outcomes


def test_ingestctl_ingest_of_a_folder_holding_a_fifo_does_not_hang(
    settings: IngestSettings, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    os.mkfifo(folder / "x.md")
    proc = ingestctl(env_for(settings), "ingest", str(folder), "--json")
    try:
        code = proc.wait(60)
    finally:
        stop(proc)
    assert code == 2  # nothing to ingest: the FIFO is not a document file, and was never opened


def test_a_document_over_the_default_size_is_refused_unread_naming_the_setting(
    tmp_path: Path,
) -> None:
    # Parsing holds ~40x a Markdown file at its peak: the default bound keeps a 50 MB file
    # (1.97 GB of RSS when parsed) from reaching the parser at all.
    path = tmp_path / "huge.md"
    with path.open("wb") as f:
        f.truncate(9 * 1024 * 1024)  # sparse: no disk, and not one byte of it is read
    tracemalloc.start()
    try:
        with pytest.raises(PermanentError, match=r"ingest\.pipeline\.max_file_bytes"):
            parse_file(path, ParseOptions())
        assert tracemalloc.get_traced_memory()[1] < 1024 * 1024
    finally:
        tracemalloc.stop()
    assert PipelineSettings().max_file_bytes == ParseOptions().max_file_bytes <= 8 * 1024 * 1024


SEARCH_ONLY = textwrap.dedent(
    """
    import os, sys
    from ingestq.ingest.parsing.reader import open_source
    os.setgid(65534)
    os.setuid(65534)  # nobody: permissions apply (root would bypass them)
    root = sys.argv[1]
    with open_source(os.path.join(root, "home", "doc.md"), (root,), 1024) as source:
        print(source.read().decode().splitlines()[0])
    """
)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the child as another user")
def test_a_directory_that_may_be_searched_but_not_listed_can_be_walked_through() -> None:
    root = Path(tempfile.mkdtemp(prefix="ingestq-search-only-"))
    try:
        (root / "home").mkdir()
        (root / "home" / "doc.md").write_text("# Reachable\n\ntext\n")
        os.chmod(root, 0o755)
        os.chmod(root / "home", 0o711)  # as many home directories are
        os.chmod(root / "home" / "doc.md", 0o644)
        result = subprocess.run([sys.executable, "-c", SEARCH_ONLY, str(root)],
                                capture_output=True, text=True, timeout=60)
        assert result.stdout.strip() == "# Reachable", result.stdout + result.stderr
    finally:
        shutil.rmtree(root)
