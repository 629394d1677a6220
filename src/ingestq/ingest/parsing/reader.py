"""Read a source file safely: every kind of bad input becomes a PermanentError naming the path.

The file is opened once, relative to a descriptor of its root and one component at a time
without following symlinks, and everything else is asked of the open descriptor (``fstat``, the
checksum, the bytes): a file or directory swapped between the check and the open cannot lead
outside the roots, a FIFO or device is refused before a byte is read, and a file over the size
limit costs no memory.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ingestq.errors import JobError, PermanentError, TransientError

# Errors that may pass on their own (I/O hiccup, descriptor or memory exhaustion, busy device,
# network filesystem timeouts): retrying later is the right answer.
TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EMFILE,
        errno.ENFILE,
        errno.EAGAIN,
        errno.EWOULDBLOCK,
        errno.EINTR,
        errno.ENOMEM,
        errno.EBUSY,
        errno.ETIMEDOUT,
        errno.ESTALE,
        errno.ENOBUFS,
    }
)

# Errors that retrying cannot fix: the path itself is wrong.
PERMANENT_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.ELOOP,
        errno.ENAMETOOLONG,
        errno.EACCES,
        errno.EPERM,
        errno.ENXIO,
    }
)

# How much of the file the binary sniffing looks at, and how much of it may be control
# characters or undecodable bytes before the file counts as binary rather than text.
SNIFF_BYTES = 8 * 1024
MAX_NON_TEXT_RATIO = 0.30
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\b\x1b")
_READ_BLOCK = 1024 * 1024
# The default largest document. Parsing holds about 40x a Markdown file's size at its peak
# (tokens, sections, chunks: a 50 MB file took 1.97 GB of RSS, an 8 MB one 330 MB), so 8 MiB
# admits generated references while bounding a worker's memory. ingest.pipeline.max_file_bytes.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class SourceText:
    """A file's decoded text, with the facts about its bytes the pipeline needs."""

    path: str  # normalised absolute path (symlinks resolved)
    text: str
    checksum: str  # sha256 of the raw bytes
    size: int
    warnings: tuple[str, ...] = field(default=())


def classify_os_error(exc: OSError, path: str, action: str) -> JobError:
    """Map an OSError to TransientError (may pass) or PermanentError (never will), naming the path.

    An errno in neither known set counts as transient, as any unexpected handler error does.
    """
    reason = exc.strerror or exc.__class__.__name__
    if exc.errno == errno.ELOOP:
        return PermanentError(f"symlink loop while {action} {path!r}: {reason}")
    if exc.errno == errno.ENOENT:
        return PermanentError(f"file not found while {action} {path!r}")
    if exc.errno in PERMANENT_ERRNOS:
        return PermanentError(f"error while {action} {path!r}: {reason}")
    return TransientError(f"OS error while {action} {path!r} (may pass, will retry): {reason}")


def resolve_inside_roots(path: str | os.PathLike[str], roots: tuple[str, ...]) -> str:
    """Resolve ``path`` strictly (every symlink followed) and check it lies inside one of ``roots``.

    Raises PermanentError for a missing path, a symlink loop or a path outside the roots. This
    names the document; :func:`open_source` is what confines the open itself.
    """
    given = os.fspath(path)
    if "\x00" in given:
        raise PermanentError(f"path {given!r} contains a NUL byte")
    try:
        resolved = os.path.realpath(os.path.abspath(given), strict=True)
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # a symlink replaced while realpath read it
            raise PermanentError(f"path {given!r} changed while being resolved; refused"
                                 ) from exc
        raise classify_os_error(exc, given, "resolving") from exc
    if roots and _root_of(resolved, roots) is None:
        allowed = ", ".join(repr(root) for root in roots)
        raise PermanentError(
            f"path {given!r} resolves to {resolved!r}, outside the allowed roots ({allowed})"
        )
    return resolved


def _root_of(resolved: str, roots: tuple[str, ...]) -> str | None:
    for root in roots:
        real_root = os.path.realpath(os.path.abspath(root))
        if os.path.commonpath([resolved, real_root]) == real_root:
            return real_root
    return None


class SourceFile:
    """An opened, checked regular file: every read and the checksum come from this descriptor.

    Made by :func:`open_source`; close it (or use it as a context manager).
    """

    def __init__(self, fd: int, path: str, size: int, max_bytes: int) -> None:
        self.fd = fd
        self.path = path  # normalised absolute path (symlinks resolved)
        self.size = size
        self.max_bytes = max_bytes
        self._checksum: str | None = None

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def checksum(self) -> str:
        """sha256 of the file's bytes, streamed from the descriptor: the one content checksum.

        Skip-unchanged, enqueue-time dedupe keys and the stored document all use this value.
        """
        if self._checksum is None:
            self._checksum = _sha256(self._blocks())
        return self._checksum

    def read(self) -> bytes:
        """The whole file (at most ``max_bytes``); also fixes the checksum to these bytes."""
        raw = b"".join(self._blocks())
        if self._checksum is None:
            self._checksum = _sha256([raw])
        return raw

    def _blocks(self) -> Iterator[bytes]:
        # pread from offset 0: the checksum and the read see the same bytes in either order.
        # The file may grow after fstat; reading at most one byte past the limit keeps memory
        # bounded and still notices it.
        offset = 0
        try:
            while offset <= self.max_bytes:
                block = os.pread(self.fd, min(_READ_BLOCK, self.max_bytes + 1 - offset), offset)
                if not block:
                    return
                offset += len(block)
                if offset > self.max_bytes:
                    raise PermanentError(f"file {self.path!r} grew past the limit of "
                                         f"{self.max_bytes} bytes while read")
                yield block
        except OSError as exc:
            raise classify_os_error(exc, self.path, "reading") from exc


def _sha256(blocks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for block in blocks:
        digest.update(block)
    return digest.hexdigest()


def open_source(path: str | os.PathLike[str], roots: tuple[str, ...], max_bytes: int
                ) -> SourceFile:
    """Open ``path`` confined to ``roots`` and check it is a regular file within the size limit.

    Nothing is read before the checks. The open walks from a descriptor of the root, one
    component at a time with ``O_NOFOLLOW``, so a directory swapped for a symlink at any moment
    is refused instead of followed out of the roots; ``O_NONBLOCK`` keeps a FIFO from hanging
    the caller (``fstat`` then refuses it).
    """
    resolved = resolve_inside_roots(path, roots)
    anchor = _root_of(resolved, roots) if roots else os.sep
    assert anchor is not None  # resolve_inside_roots refused paths outside every root
    fd = _open_beneath(anchor, resolved)
    try:
        info = os.fstat(fd)
        _check_stat(info, resolved, max_bytes)
    except OSError as exc:
        os.close(fd)
        raise classify_os_error(exc, resolved, "reading") from exc
    except BaseException:
        os.close(fd)
        raise
    return SourceFile(fd, resolved, info.st_size, max_bytes)


# O_PATH (Linux): a directory that may be searched but not listed (mode 0711, as many home
# directories are) can still be walked through, as a plain open() of the full path would.
_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)
_DIR_FLAGS = _O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _open_beneath(anchor: str, resolved: str) -> int:
    """``openat`` each component of ``resolved`` below ``anchor`` without following symlinks."""
    parts = [p for p in os.path.relpath(resolved, anchor).split(os.sep) if p not in ("", ".")]
    if not parts:
        raise PermanentError(f"{resolved!r} is a directory, not a file")
    try:
        current = os.open(anchor, _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise classify_os_error(exc, resolved, f"opening the root {anchor!r} of") from exc
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            try:
                nxt = os.open(part, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=current)
            except OSError as exc:
                raise _open_error(exc, resolved) from exc
            os.close(current)
            current = nxt
        return current
    except BaseException:
        os.close(current)
        raise


def _open_error(exc: OSError, resolved: str) -> JobError:
    # The path was resolved a moment ago, so a symlink (ELOOP), a non-directory or a missing
    # component now means it changed since: refused, never followed.
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return PermanentError(f"path {resolved!r} changed while being opened (a component is "
                              "now a symlink or not a directory); refused")
    if exc.errno == errno.ENOENT:
        return PermanentError(f"file {resolved!r} was deleted before it could be read")
    return classify_os_error(exc, resolved, "opening")


def _check_stat(info: os.stat_result, path: str, max_bytes: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise PermanentError(f"{path!r} is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise PermanentError(f"{path!r} is not a regular file (device, FIFO or socket)")
    if info.st_size > max_bytes:
        raise PermanentError(
            f"file {path!r} is {info.st_size} bytes, over the limit of {max_bytes} bytes "
            "(ingest.pipeline.max_file_bytes)"
        )
    if info.st_size == 0:
        raise PermanentError(f"file {path!r} is empty")


def looks_binary(raw: bytes) -> bool:
    """Say whether the first 8 KiB look binary: a NUL byte, or mostly control/undecodable bytes."""
    head = raw[:SNIFF_BYTES]
    if b"\x00" in head:
        return True
    # An incremental decoder does not count a character cut at the 8 KiB boundary as an error.
    sample = codecs.getincrementaldecoder("utf-8")("replace").decode(head, final=False)
    if not sample:
        return False
    non_text = sum(1 for ch in sample if ch == "\ufffd" or (ch < " " and ch not in _TEXT_CONTROLS))
    return non_text / len(sample) > MAX_NON_TEXT_RATIO


def decode_utf8(raw: bytes, path: str, invalid_utf8: str) -> tuple[str, tuple[str, ...]]:
    """Decode UTF-8 (a leading BOM is dropped); refuse or replace invalid bytes as configured."""
    if invalid_utf8 not in ("replace", "refuse"):
        raise ValueError(f"invalid_utf8 must be 'replace' or 'refuse', not {invalid_utf8!r}")
    try:
        return raw.decode("utf-8-sig"), ()
    except UnicodeDecodeError as exc:
        where = f"invalid UTF-8 in {path!r} at byte {exc.start}"
        if invalid_utf8 == "refuse":
            raise PermanentError(f"{where} (invalid_utf8='refuse')") from exc
        text = raw.decode("utf-8-sig", errors="replace")
        return text, (f"{where}: undecodable bytes replaced with U+FFFD",)


def read_source(
    path: str | os.PathLike[str],
    *,
    roots: tuple[str, ...] = (),
    max_file_bytes: int,
    invalid_utf8: str = "replace",
) -> SourceText:
    """Resolve, check and read one source file as text; every refusal names the path and reason."""
    with open_source(path, roots, max_file_bytes) as source:
        return decode_source(source, invalid_utf8)


def decode_source(source: SourceFile, invalid_utf8: str = "replace") -> SourceText:
    """Read an opened source file as text: refuse binary and blank files, decode UTF-8."""
    raw = source.read()
    if looks_binary(raw):
        raise PermanentError(f"file {source.path!r} looks binary (NUL or control bytes), not text")
    text, warnings = decode_utf8(raw, source.path, invalid_utf8)
    if not text.strip():
        raise PermanentError(f"file {source.path!r} contains only whitespace")
    return SourceText(
        path=source.path,
        text=text,
        checksum=source.checksum(),
        size=len(raw),
        warnings=warnings,
    )
