"""The ``ingestctl`` commands, one module per command group, in the order ``--help`` lists them."""

from __future__ import annotations

from types import ModuleType

from ingestq.cli.commands import (
    clean,
    config,
    control,
    dead,
    doctor,
    evaluate,
    ingest,
    jobs,
    mcp,
    serve,
    server,
    status,
    tail,
    up,
    worker,
)

# Each module's ``register(app)`` adds its commands; this order is the order of ``--help``.
COMMANDS: tuple[ModuleType, ...] = (jobs, status, ingest, worker, clean, dead, serve, tail,
                                    doctor, config, up, server, evaluate, control, mcp)
