"""One `ingestctl up` per queue and data directory, and children that die with their supervisor.

The supervisor holds an exclusive ``flock`` on ``<data_dir>/up-<queue>.lock`` for its lifetime
(the kernel drops it when the process dies, however it dies) and writes its children's pids into
the file. A second `up` finds the lock taken and refuses. When the lock is free but pids recorded
by an earlier `up` still run ingestq (children orphaned by a supervisor killed with SIGKILL,
which no signal handler sees), it refuses too, naming them, instead of starting a second set that
fights the first for the service's port.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1  # linux/prctl.h


class UpRunning(Exception):
    """Another `up` (or its orphaned children) already runs this queue."""


def _runs_ingestq(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"ingestq" in cmdline or b"ingestctl" in cmdline


class UpLock:
    """The lock file of one queue's supervisor."""

    def __init__(self, data_dir: str, queue: str) -> None:
        self.path = Path(data_dir).resolve() / f"up-{queue}.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise UpRunning saying who holds the queue."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115  # held open for the supervisor's lifetime
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = _read(f.read()).get("supervisor", "?")
            f.close()
            raise UpRunning(f"another `ingestctl up` (pid {holder}) already runs this queue; "
                            f"stop it first (kill -TERM {holder})") from None
        f.seek(0)
        recorded = _read(f.read()).get("children", [])
        left = [p for p in recorded if isinstance(p, int) and _runs_ingestq(p)] \
            if isinstance(recorded, list) else []
        if left:
            f.close()
            pids = " ".join(str(p) for p in left)
            raise UpRunning(f"processes of an earlier `ingestctl up` still run: pids {pids}; "
                            f"stop them first (kill -TERM {pids})")
        self._file = f
        self.record([])

    def record(self, children: list[int]) -> None:
        """Write the supervisor's pid and its children's pids into the lock file."""
        if self._file is None:
            return
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps({"supervisor": os.getpid(), "children": children}))
        self._file.flush()

    def release(self) -> None:
        """Forget the children (they have stopped) and drop the lock."""
        if self._file is not None:
            self.record([])
            self._file.close()
            self._file = None


def _read(text: str) -> dict[str, object]:
    with contextlib.suppress(ValueError):
        data = json.loads(text)
        if isinstance(data, dict):
            return data
    return {}


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child receive SIGTERM when the supervisor dies (Linux's
    parent-death signal), so a supervisor killed by SIGKILL leaves no orphans behind."""
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arm
