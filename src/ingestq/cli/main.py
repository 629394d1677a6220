"""The ``ingestctl`` entry point: global options, commands, errors mapped to exit codes."""

from __future__ import annotations

import os
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from ingestq.cli import startup
from ingestq.cli.commands import COMMANDS
from ingestq.cli.context import EXIT_PROBLEM, EXIT_UNREACHABLE, EXIT_USAGE, err, state, widen
from ingestq.errors import ConfigError, ConnectionFailed, IngestqError, PayloadError
from ingestq.logs import set_level
from ingestq.threads import one_blas_thread


def _fail(label: str, exc: BaseException, code: int) -> NoReturn:
    text = str(exc)
    # ConnectionFailed messages already say "cannot reach Redis at ..."; say it once
    prefix = "" if text.startswith(label) else f"[red]{label}:[/red] "
    err.print(f"{prefix}{text}", markup=True, highlight=False)
    raise typer.Exit(code)


class ExitCodeGroup(TyperGroup):
    """Maps library errors to the documented exit codes inside the app itself, so the same
    codes come out of `ingestctl`, `python -m ingestq.cli` and in-process test runners; and
    turns the garbage collector back on for all but brief commands (startup.py)."""

    def invoke(self, ctx: Any) -> Any:  # Any: newer typer vendors its own click
        """Run the command; turn known errors into a message and an exit code."""
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _fail("configuration error", exc, EXIT_USAGE)
        except PayloadError as exc:
            _fail("invalid input", exc, EXIT_USAGE)
        except ConnectionFailed as exc:
            _fail("cannot reach Redis", exc, EXIT_UNREACHABLE)
        except IngestqError as exc:
            _fail("error", exc, EXIT_PROBLEM)
        except Exception as exc:
            if _unreachable(exc):
                _fail("cannot reach Redis", exc, EXIT_UNREACHABLE)
            raise

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """The subcommand; the collector comes back on here unless it is a brief one."""
        name, command, rest = super().resolve_command(ctx, args)
        if name not in BRIEF_COMMANDS:
            startup.resume()  # a long-running command must collect garbage
        return name, command, rest


# Commands that end in moments, whatever the queue holds, keep the collector paused to the end
# (startup.py). Not those that load a model or the store (search, ingest, verify, eval), loop
# over a whole state (dead --all, clean, jobs list --limit) or run until stopped. Any other
# command, a new one included, resumes it before it runs.
BRIEF_COMMANDS = frozenset({"status", "doctor", "workers", "config", "server", "pause",
                            "resume", "cancel", "run-now"})


def _unreachable(exc: Exception) -> bool:
    # redis is imported only by commands that talk to it (start-up time): if it is not loaded,
    # the error cannot be one of its
    import sys

    if "redis.exceptions" not in sys.modules:
        return False
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, RedisConnectionError | RedisTimeoutError)


# Plain help and errors (rich_markup_mode=None): typer's rich renderer imports Markdown and
# Pygments, which tripled the time `ingestctl --help` takes (bench/startup.py).
app = typer.Typer(
    name="ingestctl", no_args_is_help=True, add_completion=True, cls=ExitCodeGroup,
    rich_markup_mode=None, pretty_exceptions_enable=False,
    help="Operate an ingestq queue: enqueue, run workers, inspect and repair.\n\n"
         "Exit codes: 0 ok, 1 problem found, 2 usage/config error, 3 Redis unreachable.")


@app.callback()
def root(
    config: str = typer.Option(None, "--config", "-c", envvar="INGESTQ_CONFIG",
                               help="YAML config file (default ./ingestq.yaml)."),
    log_level: str = typer.Option("info", "--log-level",
                                  help="debug shows every claim and ack."),
    wide: bool = typer.Option(False, "--wide",
                              help="Never fold table cells (always so when stdout is piped)."),
) -> None:
    """Global options."""
    state.reset(config)
    if wide:
        widen()
    if config:
        # child processes (process-mode slots, local workers) and lazily opened pipelines load
        # the same file
        os.environ["INGESTQ_CONFIG"] = os.path.abspath(config)
    set_level(log_level)


for command in COMMANDS:
    command.register(app)


def main() -> None:
    """Run ingestctl. Library errors become exit codes in ExitCodeGroup; typer's standalone mode
    turns usage errors into 2 and Ctrl-C at a prompt into 1."""
    one_blas_thread()  # before any command imports numpy; children inherit it
    app(prog_name="ingestctl")


if __name__ == "__main__":  # the older spelling; `python -m ingestq.cli` is the program
    main()
