"""Running ingestctl against the session's real server: in-process and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from procs import env_for
from redis import Redis
from typer.testing import CliRunner, Result

from ingestq.cli.main import app
from ingestq.config import IngestSettings
from ingestq.core.queue import Queue, error_entry
from ingestq.logs import configure_logging

INGESTCTL = str(Path(sys.executable).parent / "ingestctl")

Invoke = Callable[..., Result]


def cli_env(settings: IngestSettings, **overrides: object) -> dict[str, str | None]:
    """The child environment of `env_for`, with every other INGESTQ_ variable unset."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("INGESTQ_")}
    env.update({k: v for k, v in env_for(settings, **overrides).items()
                if k.startswith("INGESTQ_")})
    return env


@pytest.fixture
def invoke(settings: IngestSettings) -> Invoke:
    """Run `ingestctl ARGS` in this process on the test's queue (extra env via keywords)."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, **env: object) -> Result:
        try:
            return runner.invoke(app, list(args), env=cli_env(settings, **env), input=input)
        finally:
            # the runner's stderr is gone after the call: later loggers must not write to it
            configure_logging()

    return run


def run_ingestctl(settings: IngestSettings, *args: str, timeout: float = 30,
                  **env: object) -> subprocess.CompletedProcess[str]:
    """Run the installed `ingestctl` script as a real process, stdin not a terminal."""
    return subprocess.run([INGESTCTL, *args], env=env_for(settings, **env), text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def parse(result: Result) -> Any:
    """The JSON a command printed on stdout (fails the test when stdout is not pure JSON)."""
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


@pytest.fixture
def live_queue(client: Redis, settings: IngestSettings) -> Queue:
    """The test's queue on the server clock, as the CLI sees it."""
    return Queue(client, settings)


def make_dead(queue: Queue, kind: str, n: int = 1, *, permanent: bool = True) -> list[str]:
    """Enqueue ``n`` jobs of ``kind`` and fail each permanently: dead with reason permanent."""
    ids = [queue.enqueue(kind, {"path": f"/docs/{kind}-{i}.md"}).id for i in range(n)]
    batch = queue.claim("test-worker", n, kinds=[kind])
    for c in batch.jobs:
        queue.fail(c.id, c.token, error_entry(None, reason="permanent",
                                              message=f"{kind} cannot be parsed"),
                   mode="permanent" if permanent else "retry")
    return ids
