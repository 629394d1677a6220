"""Tell subscribers when a document changes: a long-running server polls the manifest.

Reads need no such help: every call reads the SQLite manifest as it is now (WAL readers see each
committed ingest at once, and search reloads its vector matrix when the change counter moves).
What polling adds is the push: ``notifications/resources/updated`` for
``ingestq://document/{id}`` when a worker rewrites or deletes that document, and a resource
list change when documents come or go.
"""

from __future__ import annotations

import sqlite3
import time

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


def changes(before: dict[str, float] | None, after: dict[str, float], since: float
            ) -> list[ServerEvent]:
    """The events between two snapshots (id -> ingested_at): every document written after
    ``since`` (rewritten, or new: a client may listen before the first ingest), every one gone,
    and a list change when documents came or went. ``before`` None: the first look."""
    written = sorted(i for i, at in after.items() if at > since)
    gone = sorted(set(before) - set(after)) if before is not None else []
    added = set(after) - set(before) if before is not None else set()
    events: list[ServerEvent] = [ResourceUpdated(uri=f"ingestq://document/{i}")
                                 for i in [*written, *gone]]
    if added or gone:
        events.append(ResourcesListChanged())
    return events


def _snapshot(library: Library) -> dict[str, float] | None:
    try:
        return library.ingest_times()
    except Refused:
        return None  # nothing ingested yet
    except (IngestqError, sqlite3.Error) as exc:
        # Looked up here, not at import: configuring logging binds the stderr of the moment.
        get_logger("ingestq.mcp").warning("cannot read the manifest for change notifications",
                                          error=str(exc))
        return None


async def watch_documents(library: Library, bus: SubscriptionBus, poll_seconds: float) -> None:
    """Publish document changes on ``bus`` every ``poll_seconds`` until cancelled.

    The watermark starts at the server's start, not at its first look: opening the store may
    take seconds, and an ingest that lands meanwhile must still be announced.
    """
    since = time.time()
    known: dict[str, float] | None = None
    while True:
        now = await anyio.to_thread.run_sync(_snapshot, library)
        if now is not None:
            for event in changes(known, now, since):
                await bus.publish(event)
            since = max([since, *now.values()])
            known = now
        await anyio.sleep(poll_seconds)
