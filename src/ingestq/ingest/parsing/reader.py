"""Read a source file safely: every kind of bad input becomes a PermanentError naming the path.

The file is opened once and everything else is asked of the open descriptor (``fstat``), so a
file deleted or swapped between enqueue and processing cannot slip past the checks, and its size
is known before a byte is read: a file over the limit costs no memory.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import stat
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

    Raises PermanentError for a missing path, a symlink loop or a path outside the roots.
    """
    given = os.fspath(path)
    try:
        resolved = os.path.realpath(os.path.abspath(given), strict=True)
    except OSError as exc:
        raise classify_os_error(exc, given, "resolving") from exc
    if roots and not any(_is_within(resolved, root) for root in roots):
        allowed = ", ".join(repr(root) for root in roots)
        raise PermanentError(
            f"path {given!r} resolves to {resolved!r}, outside the allowed roots ({allowed})"
        )
    return resolved


def _is_within(resolved: str, root: str) -> bool:
    real_root = os.path.realpath(os.path.abspath(root))
    return os.path.commonpath([resolved, real_root]) == real_root


def read_bytes(resolved: str, max_bytes: int) -> bytes:
    """Read a regular file of at most ``max_bytes`` bytes, refusing anything else before reading."""
    # O_NOFOLLOW: the path was resolved already, so a symlink here means it was swapped since.
    # O_NONBLOCK: opening a FIFO must not hang the worker; fstat then refuses it.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(resolved, flags)
    except FileNotFoundError as exc:
        raise PermanentError(f"file {resolved!r} was deleted before it could be read") from exc
    except OSError as exc:
        raise classify_os_error(exc, resolved, "opening") from exc
    try:
        info = os.fstat(fd)
        _check_stat(info, resolved, max_bytes)
        return _read_bounded(fd, resolved, max_bytes)
    except OSError as exc:
        raise classify_os_error(exc, resolved, "reading") from exc
    finally:
        os.close(fd)


def _check_stat(info: os.stat_result, path: str, max_bytes: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise PermanentError(f"{path!r} is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise PermanentError(f"{path!r} is not a regular file (device, FIFO or socket)")
    if info.st_size > max_bytes:
        raise PermanentError(
            f"file {path!r} is {info.st_size} bytes, over the limit of {max_bytes} bytes"
        )
    if info.st_size == 0:
        raise PermanentError(f"file {path!r} is empty")


def _read_bounded(fd: int, path: str, max_bytes: int) -> bytes:
    # The file may grow after fstat; reading at most one byte past the limit keeps memory bounded
    # and still notices it.
    blocks: list[bytes] = []
    total = 0
    while total <= max_bytes:
        block = os.read(fd, min(_READ_BLOCK, max_bytes + 1 - total))
        if not block:
            break
        blocks.append(block)
        total += len(block)
    if total > max_bytes:
        raise PermanentError(f"file {path!r} grew past the limit of {max_bytes} bytes while read")
    return b"".join(blocks)


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
    resolved = resolve_inside_roots(path, roots)
    raw = read_bytes(resolved, max_file_bytes)
    if looks_binary(raw):
        raise PermanentError(f"file {resolved!r} looks binary (NUL or control bytes), not text")
    text, warnings = decode_utf8(raw, resolved, invalid_utf8)
    if not text.strip():
        raise PermanentError(f"file {resolved!r} contains only whitespace")
    return SourceText(
        path=resolved,
        text=text,
        checksum=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        warnings=warnings,
    )
