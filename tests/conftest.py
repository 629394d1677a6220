"""Test fixtures: a real server (embedded Valkey, or INGESTQ_REDIS_URL) and fresh queues.

A test marked ``pytest.mark.topologies`` runs on that server ("single"), on a primary with a
replica behind three Sentinels, on a six-node Cluster, and on both of those with
``redis.min_replicas_acked: 1``; ``pytest.mark.topologies("sentinel", "cluster-acked")`` runs it
on those alone (a test of many seconds per topology). The two replicated topologies are real
redis-server processes (tests/support/clusters.py), started once per session on first use and
reused.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from support import clusters

from ingestq.config import IngestSettings, load_config
from ingestq.core.connection import connect
from ingestq.core.embedded import EmbeddedServer
from ingestq.core.queue import ManualClock, Queue
from ingestq.core.settings import QueueSettings

# "-acked": the same topology with redis.min_replicas_acked 1 (every transition waits for WAIT)
TOPOLOGIES = ["single", *(pytest.param(name, marks=pytest.mark.slow) for name in (
    "sentinel", "cluster", "sentinel-acked", "cluster-acked"))]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests marked ``topologies`` on every topology, or on those the marker names."""
    marker = metafunc.definition.get_closest_marker("topologies")
    if "topology" in metafunc.fixturenames and marker:
        unknown = set(marker.args) - {_name(t) for t in TOPOLOGIES}
        assert not unknown, f"unknown topologies {unknown}"
        metafunc.parametrize("topology", [t for t in TOPOLOGIES
                                          if not marker.args or _name(t) in marker.args],
                             indirect=True)


def _name(topology: object) -> str:
    return topology if isinstance(topology, str) else str(
        topology.values[0])  # type: ignore[attr-defined]  # a pytest.param


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
def sentinel_set() -> Iterator[clusters.SentinelSet]:
    """A primary, a replica and three Sentinels, for the whole session."""
    assert clusters.available(), f"{clusters.SERVER} is missing: apt-get install redis-server"
    topo = clusters.SentinelSet.start()
    yield topo
    topo.stop()


@pytest.fixture(scope="session")
def cluster_set() -> Iterator[clusters.ClusterSet]:
    """Three primaries with a replica each, for the whole session."""
    assert clusters.available(), f"{clusters.SERVER} is missing: apt-get install redis-server"
    topo = clusters.ClusterSet.start()
    yield topo
    topo.stop()


@pytest.fixture
def topology(request: pytest.FixtureRequest) -> str:
    """single (the default), sentinel, cluster, or either with -acked: see TOPOLOGIES."""
    return str(getattr(request, "param", "single"))


@pytest.fixture(scope="session")
def _connected() -> dict[str, tuple[IngestSettings, Redis]]:
    """Settings and client per topology, made on first use and kept for the session."""
    return {}


@pytest.fixture
def topology_settings(request: pytest.FixtureRequest, topology: str,
                      base_settings: IngestSettings,
                      _connected: dict[str, tuple[IngestSettings, Redis]]) -> IngestSettings:
    """Session settings pointing at this test's topology."""
    if topology not in _connected:
        settings = base_settings
        name, _, acked = topology.partition("-")
        if name != "single":
            url = request.getfixturevalue(f"{name}_set").url()
            settings = base_settings.model_copy(update={"redis": base_settings.redis.model_copy(
                update={"url": url, "min_replicas_acked": 1 if acked else 0})})
        _connected[topology] = (settings, connect(settings, warn_risks=False))
    return _connected[topology][0]


@pytest.fixture(scope="session")
def server_client(base_settings: IngestSettings) -> Redis:
    """A client on the test server for the whole session (for module-scoped fixtures)."""
    return connect(base_settings, warn_risks=False)


@pytest.fixture
def client(topology_settings: IngestSettings, topology: str,
           _connected: dict[str, tuple[IngestSettings, Redis]]) -> Redis:
    """A client on this test's topology (the test server unless parametrised)."""
    return _connected[topology][1]


def fresh_settings(base: IngestSettings, **queue_recovery: object) -> IngestSettings:
    """Settings with a queue name no other test uses (tests never share or flush data)."""
    name = "t-" + uuid.uuid4().hex[:12]
    rc = base.queue_recovery.model_copy(update=queue_recovery)
    return base.model_copy(update={"queue": QueueSettings(name=name), "queue_recovery": rc})


@pytest.fixture
def settings(topology_settings: IngestSettings) -> IngestSettings:
    """Fresh settings with a unique queue, on this test's topology."""
    return fresh_settings(topology_settings)


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
