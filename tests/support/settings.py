"""Settings shortcuts shared by tests."""

from __future__ import annotations

import uuid

from ingestq.config import IngestSettings
from ingestq.core.settings import QueueSettings


def fast_settings(base: IngestSettings, **recovery: object) -> IngestSettings:
    """A unique queue with short leases, frequent beats and reap passes (for crash tests)."""
    values: dict[str, object] = {"lease_seconds": 2.0, "heartbeat_seconds": 0.4,
                                 "reaper_interval_seconds": 0.5}
    values.update(recovery)
    rc = base.queue_recovery.model_copy(update=values)
    return base.model_copy(update={"queue": QueueSettings(name="t-" + uuid.uuid4().hex[:12]),
                                   "queue_recovery": rc})
