"""TLS, really connected: one server, a Sentinel set and a Cluster that speak only TLS.

Every node listens on a TLS port alone (``port 0``), replicates, watches (Sentinel) and gossips
(cluster bus) over TLS, and asks clients for a certificate. The CA and certificates are made with
``openssl`` for this module in its temporary directory; the URLs carry them the way
docs/architecture.md tells operators to (``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import clusters
from support.clusters import ClusterSet, SentinelSet, Tls
from support.procs import env_for

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.connection import connect
from ingestq.core.queue import Queue
from ingestq.core.redis_url import open_client, parse
from ingestq.core.settings import QueueSettings
from ingestq.errors import ConfigError, ConnectionFailed
from ingestq.redaction import redact

INGESTCTL = str(Path(sys.executable).parent / "ingestctl")
# The single server is started in a blink; the replicated ones take seconds each (once a module).
TOPOLOGIES = ["single", *(pytest.param(name, marks=pytest.mark.slow)
                          for name in ("sentinel", "cluster"))]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """This module's CA, server and client certificates."""
    assert clusters.available(), f"{clusters.SERVER} is missing: apt-get install redis-server"
    return Tls.make(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A CA that signed none of the servers' certificates."""
    return Tls.make(tmp_path_factory.mktemp("other-tls")).ca


@pytest.fixture(scope="module")
def tls_single(tls: Tls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[clusters.Node]:
    """One server speaking only TLS."""
    node = clusters.start_single(tmp_path_factory.mktemp("tls-single"), tls=tls)
    yield node
    node.kill()


@pytest.fixture(scope="module")
def tls_sentinel(tls: Tls) -> Iterator[SentinelSet]:
    """A primary, a replica and three Sentinels, every link TLS."""
    topo = SentinelSet.start(tls=tls)
    yield topo
    topo.stop()


@pytest.fixture(scope="module")
def tls_cluster(tls: Tls) -> Iterator[ClusterSet]:
    """Three primaries with a replica each, clients and cluster bus over TLS."""
    topo = ClusterSet.start(tls=tls)
    yield topo
    topo.stop()


def url_of(request: pytest.FixtureRequest, name: str, ca: str | None = None) -> str:
    """The rediss URL of the named TLS topology (with ``ca`` as the trusted CA when given)."""
    topo = request.getfixturevalue(f"tls_{name}")
    url: str = (clusters.single_url(topo) if name == "single" else topo.url())
    if ca is not None:
        url = url.replace(f"ssl_ca_certs={topo.tls.ca}", f"ssl_ca_certs={ca}")
    return url


def on(base: IngestSettings, url: str, tmp_path: Path) -> IngestSettings:
    """Settings on ``url`` with a queue of their own."""
    return base.model_copy(update={
        "redis": base.redis.model_copy(update={"url": url}),
        "queue": QueueSettings(name=f"tls-{tmp_path.name[-12:]}"),
        "data_dir": str(tmp_path / "data")})


def ingestctl(settings: IngestSettings, *args: str,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`ingestctl ARGS` as a real process on these settings."""
    return subprocess.run([INGESTCTL, *args], env=env_for(settings), text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_the_queue_a_worker_process_and_status_run_over_tls(
        request: pytest.FixtureRequest, name: str, base_settings: IngestSettings,
        tmp_path: Path) -> None:
    url = url_of(request, name)
    assert parse(url).tls and "ssl_ca_certs=" in url
    settings = on(base_settings, url, tmp_path)
    queue = Queue(connect(settings, warn_risks=False), settings)
    queue.enqueue("noop", {"n": 0})
    job = queue.claim("test", 1).jobs[0]
    queue.ack(job.id, job.token)
    for n in range(1, 5):
        queue.enqueue("noop", {"n": n})
    worker = ingestctl(settings, "worker", "--burst", "--kinds", "noop", "--concurrency", "2")
    assert worker.returncode == 0, worker.stderr[-2000:]
    status = ingestctl(settings, "status", "--json")
    assert status.returncode == 0, status.stderr[-2000:]
    counts = json.loads(status.stdout)["counts"]
    assert counts["done"] == 5 and counts["pending"] == 0
    assert queries.counts(queue)["done"] == 5


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_a_ca_that_did_not_sign_the_servers_is_a_clear_error_not_a_traceback(
        request: pytest.FixtureRequest, name: str, base_settings: IngestSettings,
        other_ca: str, tmp_path: Path) -> None:
    settings = on(base_settings, url_of(request, name, ca=other_ca), tmp_path)
    with pytest.raises(ConnectionFailed) as refused:
        connect(settings, warn_risks=False)
    message = str(refused.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message and "ssl_ca_certs" in message, message
    if name == "sentinel":  # not redis-py's repr of each Sentinel client
        assert "no Sentinel answered" in message and "Redis<" not in message, message
    status = ingestctl(settings, "status")
    assert status.returncode == 3, status.stderr
    assert "Traceback" not in status.stderr and "ssl_ca_certs" in status.stderr, status.stderr


def test_a_server_asking_for_a_client_certificate_says_which_options_to_set(
        tls_single: clusters.Node, tls: Tls, base_settings: IngestSettings,
        tmp_path: Path) -> None:
    url = f"rediss://127.0.0.1:{tls_single.port}/0?ssl_ca_certs={tls.ca}"
    with pytest.raises(ConnectionFailed, match="set ssl_certfile and ssl_keyfile"):
        connect(on(base_settings, url, tmp_path), warn_risks=False)


def test_a_plain_url_to_a_tls_only_server_hints_at_rediss(
        tls_single: clusters.Node, base_settings: IngestSettings, tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{tls_single.port}/0"
    with pytest.raises(ConnectionFailed, match=r"rediss://"):
        connect(on(base_settings, url, tmp_path), warn_risks=False)


def test_a_missing_certificate_file_is_a_configuration_error_naming_the_option(
        tls_single: clusters.Node, tls: Tls, base_settings: IngestSettings,
        tmp_path: Path) -> None:
    url = clusters.single_url(tls_single).replace(tls.ca, str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigError, match=r"ssl_ca_certs: .*nope.pem does not exist"):
        connect(on(base_settings, url, tmp_path), warn_risks=False)


@pytest.mark.parametrize(("url", "problem"), [
    # a misspelt option used to reach redis-py and end in a TypeError traceback
    ("rediss://h:6380/0?ssl_ca_cert=/ca.pem", "did you mean ssl_ca_certs"),
    ("rediss+cluster://h:7000?ssl_keyfile=/k&ssl_certfle=/c", "did you mean ssl_certfile"),
    # TLS options on a plain Sentinel/Cluster scheme used to be dropped: a clear-text connection
    ("redis+sentinel://h:26379/svc?ssl_ca_certs=/ca.pem", "only apply to TLS"),
    ("redis://h:6379/0?ssl_cert_reqs=none", "only apply to TLS"),
    ("rediss+sentinel://h:26379/svc?ssl_check_hostname=perhaps", "not true or false"),
])
def test_tls_options_that_cannot_work_are_refused_naming_the_problem(
        url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        open_client(url, socket_timeout=1, connect_timeout=1)


def test_every_tls_option_reaches_the_sentinel_client_typed(tls: Tls) -> None:
    url = (f"valkeys+sentinel://h:26379/svc?ssl_ca_certs={tls.ca}&ssl_ca_path={tls.dir}"
           f"&ssl_certfile={tls.file('client.crt')}&ssl_keyfile={tls.file('client.key')}"
           "&ssl_cert_reqs=required&ssl_check_hostname=false&ssl_password=p")
    assert "ssl_password=***" in redact(url)  # the key's passphrase is a secret
    client, _ = open_client(url, socket_timeout=1, connect_timeout=1)  # dials on first use
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["ssl_check_hostname"] is False  # not the string "false", which is true
    assert (kwargs["ssl_ca_certs"], kwargs["ssl_ca_path"]) == (tls.ca, str(tls.dir))
    assert kwargs["ssl_cert_reqs"] == "required" and kwargs["ssl_password"] == "p"
