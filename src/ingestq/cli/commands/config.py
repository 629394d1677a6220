"""`config show` and `config check`."""

from __future__ import annotations

import typer
from rich.table import Table

from ingestq.cli.context import out, print_json, state
from ingestq.ops.config_view import check_config_file, effective_settings

config_app = typer.Typer(help="Show or check the configuration.", no_args_is_help=True)


@config_app.command("show")
def show_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable settings."),
             ) -> None:
    """Every effective setting and where it came from: file, env:NAME or default.

    Secrets are masked. Example: ingestctl --config prod.yaml config show --json
    """
    loaded = state.config
    items = effective_settings(loaded)
    if as_json:
        print_json({"file": str(loaded.file) if loaded.file else None,
                    "settings": [s.to_dict() for s in items]})
        return
    table = Table(title=f"configuration ({loaded.file or 'no file: defaults and environment'})")
    for col in ("key", "value", "origin"):
        table.add_column(col, overflow="fold")
    for s in items:
        style = "" if s.origin == "default" else "bold"
        table.add_row(s.key, repr(s.value) if isinstance(s.value, str) else str(s.value),
                      s.origin, style=style)
    out.print(table)


@config_app.command("check")
def check_cmd(file: str = typer.Argument(
        None, help="File to check (default: --config, $INGESTQ_CONFIG or ./ingestq.yaml)."),
) -> None:
    """Validate a configuration file plus the environment; exit 2 naming each bad key.

    Example: ingestctl config check config/production.yaml
    """
    loaded = check_config_file(file if file is not None else state.config_path)
    out.print(f"ok: {loaded.file or 'defaults and environment'} is valid", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the config sub-commands to the app."""
    app.add_typer(config_app, name="config")
