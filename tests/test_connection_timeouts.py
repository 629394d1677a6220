"""A server that does not speak the protocol asked for fails fast, not after the command timeout."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
from bounded import within
from promtool import free_port
from redis import Redis
from redis.exceptions import RedisError

from ingestq.config import load_config
from ingestq.core.connection import connect
from ingestq.core.embedded import valkey_binary
from ingestq.errors import ConnectionFailed


@pytest.fixture
def plain_server() -> Iterator[int]:
    """A real Valkey on a TCP port, without TLS."""
    port = free_port()
    proc = subprocess.Popen([valkey_binary(), "--port", str(port), "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        client = Redis(port=port)
        within(10, lambda: _wait_ping(client))
        yield port
    finally:
        proc.kill()
        proc.wait(10)


def _wait_ping(client: Redis) -> None:
    while True:
        try:
            client.ping()
            return
        except (OSError, RedisError):  # refused until the server listens
            time.sleep(0.05)


@pytest.mark.slow
def test_rediss_against_a_plain_server_fails_within_the_connect_timeout(
        plain_server: int) -> None:
    settings = load_config(environ={"INGESTQ_REDIS_URL":
                                    f"rediss://127.0.0.1:{plain_server}/0"}).ingest
    with pytest.raises(ConnectionFailed, match="TLS"):
        within(15, lambda: connect(settings))  # the command timeout is 30 s


def test_after_connecting_commands_use_the_callers_timeout(plain_server: int) -> None:
    settings = load_config(environ={"INGESTQ_REDIS_URL":
                                    f"redis://127.0.0.1:{plain_server}/0"}).ingest
    client = connect(settings, socket_timeout=12.0, warn_risks=False)
    assert client.ping()
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 12.0
