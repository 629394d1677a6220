"""Tell subscribers when a document changes: a long-running server polls the manifest.

Reads need no such help: every call reads the SQLite manifest as it is now (WAL readers see each
committed ingest at once, and search reloads its vector matrix when the change counter moves).
What polling adds is the push: ``notifications/resources/updated`` for
``ingestq://document/{id}`` when a worker rewrites or deletes that document, and a resource
list change when documents come or go.
"""

from __future__ import annotations

import sqlite3

import anyio
from mcp.server.subscriptions import (
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    SubscriptionBus,
)

from ingestq.errors import IngestqError
from ingestq.logs import get_logger
from ingestq.mcp.library import Library, Refused

log = get_logger("ingestq.mcp")


def changes(before: dict[str, float], after: dict[str, float]) -> list[ServerEvent]:
    """The events that turn the ``before`` snapshot (id -> ingested_at) into ``after``."""
    # A document that appeared counts as updated too: a client may subscribe to its URI before
    # the first ingest, or see it ingested and rewritten between two polls.
    changed = sorted(i for i, at in after.items() if before.get(i) != at)
    gone = sorted(set(before) - set(after))
    added = set(after) - set(before)
    events: list[ServerEvent] = [ResourceUpdated(uri=f"ingestq://document/{i}")
                                 for i in [*changed, *gone]]
    if added or gone:
        events.append(ResourcesListChanged())
    return events


def _snapshot(library: Library) -> dict[str, float] | None:
    try:
        return library.ingest_times()
    except Refused:
        return None  # nothing ingested yet
    except (IngestqError, sqlite3.Error) as exc:
        log.warning("cannot read the manifest for change notifications", error=str(exc))
        return None


async def watch_documents(library: Library, bus: SubscriptionBus, poll_seconds: float) -> None:
    """Publish document changes on ``bus`` every ``poll_seconds`` until cancelled."""
    known = await anyio.to_thread.run_sync(_snapshot, library)
    while True:
        await anyio.sleep(poll_seconds)
        now = await anyio.to_thread.run_sync(_snapshot, library)
        if now is None:
            continue
        for event in changes(known or {}, now) if known is not None else []:
            await bus.publish(event)
        known = now
