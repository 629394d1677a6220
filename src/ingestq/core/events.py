"""The lifecycle events stream: decoding its entries (one event, or one per job of a batch
entry) and reading it from a point onwards without missing anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from ingestq.core.queue import Queue

BLOCK_MS = 500  # one XREAD wait; short so liveness checks and Ctrl-C stay responsive
READ_COUNT = 1000


@dataclass(frozen=True)
class Event:
    """One lifecycle event: its stream id, type, job, kind, server time, and extra fields."""

    id: str
    type: str
    job: str
    kind: str
    t: float | None
    fields: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one line of `tail --json`): integer fields are numbers."""
        return {"id": self.id or None, "type": self.type, "job": self.job, "kind": self.kind,
                "t": self.t, "fields": {k: _typed(v) for k, v in self.fields.items()}}


def _typed(value: str) -> int | str:
    """Stream fields are strings on the wire; counts, attempts and tokens read as numbers."""
    return int(value) if value.lstrip("-").isdigit() and len(value) < 19 else value


ENTRY_FIELDS = ("type", "job", "kind", "t", "jobs", "kinds")


def events_of(entry_id: str, raw: dict[str, str]) -> list[Event]:
    """The events one stream entry holds: one, or one per job of a batch entry.

    A batch entry (claim and ack write one per call) has ``jobs`` (comma list), ``kind`` (every
    job's kind) or ``kinds`` (comma list aligned with ``jobs``), ``t``, ``each:<name>`` fields
    (comma lists aligned with ``jobs``: field ``<name>`` of each job's event) and shared fields.
    Every event of a batch carries the entry's stream id.
    """
    t_raw = raw.get("t")
    t = int(t_raw) / 1000.0 if t_raw else None
    typ = raw.get("type", "")
    if "jobs" not in raw:
        extra = {k: v for k, v in raw.items() if k not in ENTRY_FIELDS}
        return [Event(id=entry_id, type=typ, job=raw.get("job", ""), kind=raw.get("kind", ""),
                      t=t, fields=extra)]
    jobs = raw["jobs"].split(",")
    kinds = raw["kinds"].split(",") if "kinds" in raw else [raw.get("kind", "")] * len(jobs)
    each = {k[5:]: v.split(",") for k, v in raw.items() if k.startswith("each:")}
    shared = {k: v for k, v in raw.items()
              if k not in ENTRY_FIELDS and not k.startswith("each:")}
    return [Event(id=entry_id, type=typ, job=job, kind=kinds[i], t=t,
                  fields={**{k: v[i] for k, v in each.items()}, **shared})
            for i, job in enumerate(jobs)]


def event_count(raw: dict[str, str]) -> int:
    """How many events one stream entry holds (without building them)."""
    jobs = raw.get("jobs")
    return jobs.count(",") + 1 if jobs else 1


class EventReader:
    """Reads the events stream from the moment it was created onwards."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        last = cast(list[tuple[str, dict[str, str]]],
                    queue.client.xrevrange(queue.keys.events, count=1))
        # a concrete id, not '$': nothing that happens between two reads can be missed
        self.last_id = last[0][0] if last else "0-0"

    def read(self, block_ms: int | None = BLOCK_MS) -> list[Event]:
        """Events after the last one returned, waiting up to ``block_ms`` for the first (None:
        no wait)."""
        res = cast(list[tuple[str, list[tuple[str, dict[str, str]]]]], self.queue.client.xread(
            {self.queue.keys.events: self.last_id}, count=READ_COUNT, block=block_ms))
        out: list[Event] = []
        for _, entries in res or []:
            for entry_id, raw in entries:
                out.extend(events_of(entry_id, raw))
                self.last_id = entry_id
        return out

    def rest(self) -> list[Event]:
        """Every event already in the stream after the last one returned, without waiting."""
        out: list[Event] = []
        while batch := self.read(block_ms=None):
            out.extend(batch)
        return out
