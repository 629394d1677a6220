"""Every command explains itself with an example; shell completion is available."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from ingestq.cli.main import app


def leaf_commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from leaf_commands(cmd, (*path, name))
        else:
            yield (*path, name)


COMMANDS = sorted(leaf_commands(typer.main.get_command(app)))


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_help_shows_an_example(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example: ingestctl" in result.stdout


def test_the_operator_commands_are_all_registered() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert {"status", "enqueue", "jobs list", "jobs show", "tail", "clean", "dead list",
            "dead show", "dead retry", "dead purge", "workers", "worker", "reaper", "doctor",
            "config show", "config check", "up", "pause", "resume", "cancel", "run-now"} <= names


def test_shell_completion_script_is_offered_for_bash() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "bash"])
    assert result.exit_code == 0
    assert "complete" in result.stdout and "ingestctl" in result.stdout.lower()
