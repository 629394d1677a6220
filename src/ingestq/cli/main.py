"""The ``ingestctl`` entry point: global options, commands, errors mapped to exit codes."""

from __future__ import annotations

import os
import sys

import click
import typer

from ingestq.cli import ingest_cmds, jobs_cmds, worker_cmds
from ingestq.cli.context import EXIT_UNREACHABLE, EXIT_USAGE, err, state
from ingestq.errors import ConfigError, ConnectionFailed, IngestqError
from ingestq.logs import configure_logging

app = typer.Typer(
    name="ingestctl", no_args_is_help=True, add_completion=True,
    help="Operate an ingestq queue: enqueue, run workers, inspect and repair.\n\n"
         "Exit codes: 0 ok, 1 problem found, 2 usage/config error, 3 Redis unreachable.")


@app.callback()
def root(
    config: str = typer.Option(None, "--config", "-c", envvar="INGESTQ_CONFIG",
                               help="YAML config file (default ./ingestq.yaml)."),
    log_level: str = typer.Option("info", "--log-level",
                                  help="debug shows every claim and ack."),
) -> None:
    """Global options."""
    state.config_path = config
    if config:
        # child processes (process-mode slots, local workers) and lazily opened pipelines load
        # the same file
        os.environ["INGESTQ_CONFIG"] = os.path.abspath(config)
    configure_logging(log_level)


jobs_cmds.register(app)
ingest_cmds.register(app)
worker_cmds.register(app)


def main() -> None:
    """Run ingestctl and map errors to the documented exit codes."""
    try:
        code = app(standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        err.print("aborted")
        code = 1
    except click.exceptions.ClickException as exc:
        exc.show()
        code = EXIT_USAGE
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}", markup=True, highlight=False)
        code = EXIT_USAGE
    except ConnectionFailed as exc:
        err.print(f"[red]cannot reach Redis:[/red] {exc}", markup=True, highlight=False)
        code = EXIT_UNREACHABLE
    except IngestqError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
