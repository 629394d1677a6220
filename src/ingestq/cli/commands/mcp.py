"""`ingestctl mcp`: serve the MCP server over stdio, for desktop assistants to launch."""

from __future__ import annotations

import typer

from ingestq.cli.context import state


def mcp() -> None:
    """Serve the ingested documents to an assistant over MCP (stdio).

    Tools: search, get_section, get_document, list_documents, related, queue_status, and ingest
    (only with ingest.mcp.allow_ingest). stdout carries the protocol; logs go to stderr.

    Example: ingestctl --config /abs/ingestq.yaml mcp   (what an assistant launches)
    """
    from ingestq.mcp.server import build_server

    build_server(state.config.ingest).run("stdio")


def register(app: typer.Typer) -> None:
    """Add this command to the app."""
    app.command()(mcp)
