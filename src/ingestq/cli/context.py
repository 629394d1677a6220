"""What every command shares: the loaded config, one connection, output helpers, exit codes.

Exit codes: 0 ok; 1 the check or action found a problem; 2 usage or configuration error;
3 cannot reach Redis.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:  # pydantic and redis load when a command needs them, never for --help
    from ingestq.config import LoadedConfig
    from ingestq.core.queue import Queue

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

# Piped output is for grep and scripts: no wrapping at 80 columns, no id cut to fit. Rich
# tables only grow to their content, so a wide console prints each row whole on one line.
WIDE = 4096
# emoji=False: job data and keys are printed as they are (rich would turn a ":name:" in them
# into an emoji), and its emoji table is not loaded at start-up (2 ms)
out = Console(soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else WIDE)
err = Console(stderr=True, soft_wrap=True, emoji=False,
              width=None if sys.stderr.isatty() else WIDE)


def widen() -> None:
    """`--wide`: full-width rows on a terminal too (long ids and paths are never folded)."""
    out.width = WIDE


@dataclass
class State:
    """Per-invocation state, built lazily so `--help` never touches Redis."""

    config_path: str | None = None
    _loaded: LoadedConfig | None = None
    _queue: Queue | None = None
    # Long-running commands (worker) log the server's risks at start; one-shot commands do not
    # repeat them on every run: `status` and `doctor` show them.
    warn_risks: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def reset(self, config_path: str | None) -> None:
        """Forget what an earlier invocation in this process loaded (tests run many)."""
        self.config_path = config_path
        self._loaded = None
        self._queue = None
        self.warn_risks = False
        self.extra.clear()

    @property
    def config(self) -> LoadedConfig:
        """The validated configuration."""
        if self._loaded is None:
            from ingestq.config import load_config

            self._loaded = load_config(self.config_path)
        return self._loaded

    @property
    def queue(self) -> Queue:
        """The queue, connected (starting the embedded server when none is configured)."""
        if self._queue is None:
            from ingestq.core.connection import connect
            from ingestq.core.queue import Queue

            client = connect(self.config.ingest, warn_risks=self.warn_risks,
                             on_start=lambda line: err.print(line, highlight=False))
            self._queue = Queue(client, self.config.ingest)
        return self._queue


state = State()


def usage_error(message: str, *, as_json: bool = False) -> NoReturn:
    """One line (JSON under ``--json``) and exit 2: for usage errors found after parsing."""
    if as_json:
        print_json({"error": message})
    else:
        err.print(f"[red]usage error:[/red] {message}", highlight=False)
    raise typer.Exit(EXIT_USAGE)


def print_json(data: Any) -> None:
    """Pure JSON on stdout (logs go to stderr)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def confirm_or_refuse(question: str, *, yes: bool, what: str, as_json: bool = False) -> None:
    """Ask before a change; without a terminal (and without --yes) refuse and change nothing.

    Exits 1 when refused or declined, so a script that forgot --yes fails loudly instead of
    hanging on a prompt nobody sees or acting without consent. Under ``--json`` the refusal is
    JSON on stdout too (``{"refused": true, "error": ...}``), so a script parses every outcome.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        message = (f"refusing to {what} without confirmation: no terminal to ask on. "
                   "Nothing was changed. Re-run with --yes to proceed, or --dry-run to look.")
        if as_json:
            print_json({"refused": True, "error": message})
        else:
            err.print(message, highlight=False)
        raise typer.Exit(EXIT_PROBLEM)
    if not typer.confirm(question, default=False, err=True):
        err.print("nothing was changed")
        raise typer.Exit(EXIT_PROBLEM)
