"""Memory of a whole process tree while a command runs, sampled from /proc.

A command that starts workers (``ingestctl ingest`` with local workers) spreads its memory over
several processes; one process's peak says nothing of the machine's. Every POLL_SECONDS the
resident memory (VmRSS) of the command and all its descendants is summed; the highest sum is
the tree's peak. Each process's own high-water mark (VmHWM, kept by the kernel, so a spike
between samples is not missed there) is kept too.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 0.2


@dataclass
class TreePeak:
    """The tree's highest summed RSS, the processes seen, the largest one's VmHWM (MiB)."""

    tree_mib: float = 0.0
    processes: int = 0
    largest_mib: float = 0.0


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def _kib(value: str | None) -> int:
    return int(value.split()[0]) if value else 0


def sample_tree(roots: list[int], peak: TreePeak, seen: dict[int, int]) -> None:
    """One sample of the trees under ``roots``: update ``peak`` and each pid's VmHWM."""
    todo, total = list(roots), 0
    while todo:
        pid = todo.pop()
        status = _status(pid)
        if not status:
            continue
        total += _kib(status.get("VmRSS"))
        seen[pid] = max(seen.get(pid, 0), _kib(status.get("VmHWM")))
        todo += _children(pid)
    peak.tree_mib = max(peak.tree_mib, total / 1024)
    peak.processes = len(seen)
    peak.largest_mib = max(seen.values(), default=0) / 1024


def run_sampled(argv: list[str], env: dict[str, str], also: list[int] | None = None
                ) -> tuple[subprocess.CompletedProcess[str], float, TreePeak]:
    """Run ``argv`` to its end, sampling its tree (and ``also``'s); (result, wall s, peak)."""
    peak, seen = TreePeak(), dict[int, int]()
    # Files, not pipes: nobody reads a pipe while the tree is sampled, and a full one blocks.
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                stderr=stderr, text=True)
        roots = [proc.pid, *(also or [])]
        while proc.poll() is None:
            sample_tree(roots, peak, seen)
            time.sleep(POLL_SECONDS)
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read(), stderr.read()
    if proc.returncode:
        raise RuntimeError(f"{argv[:4]} exited {proc.returncode}: {err[-2000:]}")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err), wall, peak
