"""Typed settings of the MCP server: the ``ingest.mcp`` block of the YAML config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Clients cap one tool result at about 25,000 tokens; 8,000 leaves the assistant room for the
# conversation and still holds a dozen full sections.
DEFAULT_MAX_TOKENS = 8000


class McpSettings(BaseModel):
    """What the MCP server may do and how much it may answer at once."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Off by default: a read-only server cannot be talked into filling the queue.
    allow_ingest: bool = False
    # Server-wide ceiling on one tool result, counted as docs/mcp.md says; callers may ask less.
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, ge=100, le=100_000)
    # Host headers accepted over HTTP when the service binds a non-loopback address (DNS
    # rebinding protection); loopback binds accept 127.0.0.1, localhost and [::1] on any port.
    allowed_hosts: list[str] = []
    # How often a long-running server looks for finished ingests to notify subscribers.
    poll_seconds: float = Field(2.0, gt=0)


def http_route_state(token: str | None) -> tuple[bool, str]:
    """Whether the service serves MCP at /mcp, and the sentence /readyz and doctor show."""
    if not token:
        return False, ("off: /mcp needs ingest.service.token (or INGESTQ_SERVICE_TOKEN); "
                       "`ingestctl mcp` serves stdio without one")
    return True, "on at /mcp (streamable HTTP, bearer token required)"
