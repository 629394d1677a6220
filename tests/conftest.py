"""Test fixtures: a real server (embedded Valkey, or INGESTQ_REDIS_URL) and fresh queues."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from ingestq.config import IngestSettings, QueueSettings, load_config
from ingestq.core.connection import connect
from ingestq.core.embedded import EmbeddedServer
from ingestq.core.queue import ManualClock, Queue


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Data directory of the session's embedded server (unused with INGESTQ_REDIS_URL)."""
    path = tmp_path_factory.mktemp("ingestq-data")
    yield path
    if not os.environ.get("INGESTQ_REDIS_URL"):
        EmbeddedServer(path).stop()


@pytest.fixture(scope="session")
def base_settings(server_dir: Path) -> IngestSettings:
    """Settings pointing at the test server: INGESTQ_REDIS_URL when set, else embedded."""
    env = {k: v for k, v in os.environ.items() if k == "INGESTQ_REDIS_URL"}
    env["INGESTQ_DATA_DIR"] = str(server_dir)
    return load_config(environ=env).ingest


@pytest.fixture(scope="session")
def client(base_settings: IngestSettings) -> Redis:
    """A client on the test server."""
    return connect(base_settings)


def fresh_settings(base: IngestSettings, **queue_recovery: object) -> IngestSettings:
    """Settings with a queue name no other test uses (tests never share or flush data)."""
    name = "t-" + uuid.uuid4().hex[:12]
    rc = base.queue_recovery.model_copy(update=queue_recovery)
    return base.model_copy(update={"queue": QueueSettings(name=name), "queue_recovery": rc})


@pytest.fixture
def settings(base_settings: IngestSettings) -> IngestSettings:
    """Fresh settings with a unique queue."""
    return fresh_settings(base_settings)


@pytest.fixture
def clock() -> ManualClock:
    """A hand-moved clock for expiry tests."""
    return ManualClock()


@pytest.fixture
def queue(client: Redis, settings: IngestSettings, clock: ManualClock) -> Queue:
    """A fresh, empty queue on the real server, driven by the manual clock."""
    q = Queue(client, settings, clock=clock)
    assert not client.exists(q.keys.stats), "test queue must start empty"
    return q
