"""parse_file refuses every kind of bad input with an error that names the path and the reason."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from ingestq.errors import PermanentError, TransientError
from ingestq.ingest.parsing.parse import ParseOptions, document_id_for, normalise_path, parse_file
from ingestq.ingest.parsing.reader import classify_os_error, open_source, resolve_inside_roots

SRC_DIR = Path(__file__).resolve().parents[2] / "src"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_missing_file_is_a_permanent_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.md"
    with pytest.raises(PermanentError, match=r"not found.*nope\.md"):
        parse_file(missing, ParseOptions())


def test_a_directory_given_as_a_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "docs.md"
    folder.mkdir()
    with pytest.raises(PermanentError, match=r"docs\.md.*is a directory"):
        parse_file(folder, ParseOptions())


def test_a_file_with_nul_bytes_is_refused_as_binary(tmp_path: Path) -> None:
    path = write(tmp_path / "image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x01" * 100)
    with pytest.raises(PermanentError, match=r"image\.md.*binary"):
        parse_file(path, ParseOptions())


def test_a_file_of_mostly_control_bytes_is_refused_as_binary(tmp_path: Path) -> None:
    path = write(tmp_path / "blob.txt", bytes(range(1, 32)) * 50 + b"some text")
    with pytest.raises(PermanentError, match="binary"):
        parse_file(path, ParseOptions())


def test_invalid_utf8_is_refused_when_configured_to_refuse(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.md", "# Café\n\nna\xefve".encode("latin-1"))
    with pytest.raises(PermanentError, match=r"invalid UTF-8 in .*latin1\.md.* at byte 5"):
        parse_file(path, ParseOptions(invalid_utf8="refuse"))


def test_invalid_utf8_is_replaced_with_a_warning_by_default(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.md", "# Café\n\nna\xefve".encode("latin-1"))
    document = parse_file(path, ParseOptions())
    assert document.sections[0].title == "Caf\ufffd"
    assert any("invalid UTF-8" in warning and "byte 5" in warning for warning in document.warnings)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.md", b"")
    with pytest.raises(PermanentError, match=r"empty\.md.*is empty"):
        parse_file(path, ParseOptions())


def test_a_whitespace_only_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.md", b" \n\t\r\n  \n")
    with pytest.raises(PermanentError, match=r"blank\.md.*only whitespace"):
        parse_file(path, ParseOptions())


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.md"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB of size, no disk blocks
    tracemalloc.start()
    try:
        with pytest.raises(PermanentError, match=r"huge\.md.*52428800 bytes.*limit of 1048576"):
            parse_file(path, ParseOptions(max_file_bytes=1024 * 1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 512 * 1024, f"refusing the file allocated {peak} bytes"


def test_a_file_exactly_at_the_limit_is_accepted(tmp_path: Path) -> None:
    content = b"# Title\n\n" + b"word " * 200
    path = write(tmp_path / "edge.md", content)
    document = parse_file(path, ParseOptions(max_file_bytes=len(content)))
    assert document.title == "Title"


def test_a_path_outside_the_roots_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = write(tmp_path / "elsewhere" / "doc.md", b"# Doc\n")
    with pytest.raises(PermanentError, match=r"doc\.md.*outside the allowed roots"):
        parse_file(outside, ParseOptions(roots=(str(root),)))


def test_a_symlink_inside_the_roots_pointing_outside_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    secret = write(tmp_path / "secret.md", b"# Secret\n")
    (root / "innocent.md").symlink_to(secret)
    with pytest.raises(PermanentError, match=r"innocent\.md.*secret\.md.*outside the allowed"):
        parse_file(root / "innocent.md", ParseOptions(roots=(str(root),)))


def test_a_root_that_is_a_prefix_of_a_sibling_does_not_admit_the_sibling(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    sibling = write(tmp_path / "docs-private" / "doc.md", b"# Doc\n")
    with pytest.raises(PermanentError, match="outside the allowed roots"):
        parse_file(sibling, ParseOptions(roots=(str(tmp_path / "docs"),)))


def test_a_file_inside_the_roots_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "root" / "sub" / "doc.md", b"# Inside\n\ntext\n")
    document = parse_file(path, ParseOptions(roots=(str(tmp_path / "root"),)))
    assert document.title == "Inside"


def test_a_symlink_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.md").symlink_to(tmp_path / "b.md")
    (tmp_path / "b.md").symlink_to(tmp_path / "a.md")
    with pytest.raises(PermanentError, match=r"symlink loop.*a\.md"):
        parse_file(tmp_path / "a.md", ParseOptions())


def test_a_file_deleted_between_resolving_and_opening_is_a_permanent_error(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "gone.md", b"# Gone\n")
    resolved = resolve_inside_roots(path, ())
    path.unlink()
    with pytest.raises(PermanentError, match=r"gone\.md"):
        open_source(resolved, (), 1024)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    with pytest.raises(PermanentError, match=r"pipe\.md.*not a regular file"):
        parse_file(fifo, ParseOptions())


@pytest.mark.parametrize("code", [errno.EIO, errno.EMFILE, errno.EAGAIN, errno.ENFILE])
def test_passing_os_errors_are_transient(code: int) -> None:
    error = classify_os_error(OSError(code, os.strerror(code)), "/data/doc.md", "reading")
    assert isinstance(error, TransientError)
    assert "/data/doc.md" in str(error)


@pytest.mark.parametrize("code", [errno.EACCES, errno.ENOTDIR, errno.ENAMETOOLONG])
def test_os_errors_about_the_path_itself_are_permanent(code: int) -> None:
    error = classify_os_error(OSError(code, os.strerror(code)), "/data/doc.md", "opening")
    assert isinstance(error, PermanentError)


def test_running_out_of_file_descriptors_raises_a_transient_error(tmp_path: Path) -> None:
    path = write(tmp_path / "doc.md", b"# Doc\n")
    # A child process, so exhausting descriptors cannot disturb this test session.
    script = textwrap.dedent(
        f"""
        import os, resource
        from ingestq.errors import TransientError
        from ingestq.ingest.parsing.parse import ParseOptions, parse_file
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        held = []
        try:
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        try:
            parse_file({str(path)!r}, ParseOptions())
        except TransientError as exc:
            print("transient:", exc)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(SRC_DIR)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.stdout.startswith("transient:"), result.stdout + result.stderr
    assert "doc.md" in result.stdout


def test_the_checksum_is_the_sha256_of_the_raw_bytes(tmp_path: Path) -> None:
    raw = "\ufeff# Título\n\ntexto\n".encode()
    path = write(tmp_path / "bom.md", raw)
    document = parse_file(path, ParseOptions())
    assert document.checksum == hashlib.sha256(raw).hexdigest()
    assert document.title == "Título"  # the byte-order mark is not part of the text


def test_two_spellings_of_one_path_are_one_document(tmp_path: Path) -> None:
    path = write(tmp_path / "docs" / "page.md", b"# Page\n\ntext\n")
    (tmp_path / "link.md").symlink_to(path)
    spellings = [
        path,
        f"{tmp_path}//docs/./page.md",
        tmp_path / "docs" / ".." / "docs" / "page.md",
        tmp_path / "link.md",
    ]
    ids = {parse_file(spelling, ParseOptions()).id for spelling in spellings}
    assert ids == {document_id_for(path)}


def test_a_relative_path_normalises_to_the_absolute_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "page.md", b"# Page\n")
    monkeypatch.chdir(tmp_path)
    assert normalise_path("page.md") == str(tmp_path.resolve() / "page.md")
    assert parse_file("page.md", ParseOptions()).source_path == str(tmp_path.resolve() / "page.md")
