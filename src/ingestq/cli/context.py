"""What every command shares: the loaded config, one connection, output helpers, exit codes.

Exit codes: 0 ok; 1 the check or action found a problem; 2 usage or configuration error;
3 cannot reach Redis.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console

from ingestq.config import LoadedConfig, load_config
from ingestq.core.connection import connect
from ingestq.core.queue import Queue

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

out = Console(soft_wrap=True)
err = Console(stderr=True)


@dataclass
class State:
    """Per-invocation state, built lazily so `--help` never touches Redis."""

    config_path: str | None = None
    _loaded: LoadedConfig | None = None
    _queue: Queue | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def reset(self, config_path: str | None) -> None:
        """Forget what an earlier invocation in this process loaded (tests run many)."""
        self.config_path = config_path
        self._loaded = None
        self._queue = None
        self.extra.clear()

    @property
    def config(self) -> LoadedConfig:
        """The validated configuration."""
        if self._loaded is None:
            self._loaded = load_config(self.config_path)
        return self._loaded

    @property
    def queue(self) -> Queue:
        """The queue, connected (starting the embedded server when none is configured)."""
        if self._queue is None:
            self._queue = Queue(connect(self.config.ingest), self.config.ingest)
        return self._queue


state = State()


def print_json(data: Any) -> None:
    """Pure JSON on stdout (logs go to stderr)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def confirm_or_refuse(question: str, *, yes: bool, what: str) -> None:
    """Ask before a change; without a terminal (and without --yes) refuse and change nothing.

    Exits 1 when refused or declined, so a script that forgot --yes fails loudly instead of
    hanging on a prompt nobody sees or acting without consent.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        err.print(f"refusing to {what} without confirmation: no terminal to ask on. "
                  "Nothing was changed. Re-run with --yes to proceed, or --dry-run to look.",
                  highlight=False)
        raise typer.Exit(EXIT_PROBLEM)
    if not typer.confirm(question, default=False, err=True):
        err.print("nothing was changed")
        raise typer.Exit(EXIT_PROBLEM)
