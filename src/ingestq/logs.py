"""Structured logging: JSON lines when stderr is not a terminal, readable lines when it is."""

from __future__ import annotations

import logging
import sys
from typing import Any

_configured = False
_level = "info"


def set_level(level: str) -> None:
    """Choose the level; structlog is set up (and imported) when the first logger is asked for,
    so a command that logs nothing (`--help`, `status`) never pays for it."""
    global _configured, _level
    logging.getLevelNamesMapping()[level.upper()]  # an unknown level fails here, not later
    _level, _configured = level, False
    if "structlog" in sys.modules:  # already in use in this process: apply the level now
        configure_logging(level)


def _stderr_logger(*_args: Any) -> Any:
    # sys.stderr as it is when a line is written, not when logging was set up: an embedding
    # program (or a test runner) may replace it, and the old one may be closed by then.
    import structlog

    return structlog.PrintLogger(sys.stderr)


def configure_logging(level: str | None = None, json: bool | None = None) -> None:
    """Set up structlog once per process; logs go to stderr so stdout stays for --json output."""
    import structlog

    global _configured
    level = level or _level
    use_json = not sys.stderr.isatty() if json is None else json
    renderer: Any = (structlog.processors.JSONRenderer() if use_json
                     else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    _configured = True


def get_logger(name: str = "ingestq") -> Any:
    """A bound structlog logger (configures defaults on first use)."""
    import structlog

    if not _configured:
        configure_logging()
    return structlog.get_logger(name)
