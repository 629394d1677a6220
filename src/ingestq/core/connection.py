"""Connecting to Redis/Valkey: a configured URL, or the embedded server in the data directory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import ResponseError

from ingestq.core.embedded import EmbeddedServer
from ingestq.core.redis_url import (
    CONNECT_ERRORS,
    explain,
    no_retries,
    open_client,
    set_socket_timeout,
)
from ingestq.core.settings import CoreSettings
from ingestq.errors import ConfigError, ConnectionFailed
from ingestq.logs import get_logger
from ingestq.redaction import redact

MIN_VERSION = (6, 2)
# Dialing, the TLS handshake and the first answer. A server that does not speak the protocol
# asked for (rediss:// against a plain server hangs in the handshake) fails in seconds, not after
# the command timeout; commands then get the caller's own timeout.
CONNECT_TIMEOUT = 5.0
EVICTING_SAFE = {"noeviction", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}

__all__ = ["connect", "no_retries", "redact", "server_risks"]


def connect(settings: CoreSettings, *, socket_timeout: float | None = 30.0,
            warn_risks: bool = True, reconnect_timeout: float | None = None,
            on_start: Callable[[str], None] | None = None) -> Redis:
    """A checked client: the configured URL, else the embedded server (started if needed).

    On a configured server, each risk to the jobs (evicting memory policy, no persistence) is
    logged as a warning when ``warn_risks`` (long-running processes; `status` and `doctor`
    report them in their output instead). ``reconnect_timeout`` bounds how long later reconnects
    of the client's pool may take to dial (the first dial allows 5 s). ``on_start`` hears a line
    when this call started the embedded server.
    """
    url = settings.redis.url
    where = url or "the embedded Valkey server"
    client: Redis | None = None
    try:
        if url:
            probe = CONNECT_TIMEOUT if socket_timeout is None else min(socket_timeout,
                                                                      CONNECT_TIMEOUT)
            client, _ = open_client(url, socket_timeout=probe, connect_timeout=CONNECT_TIMEOUT)
            info = client.info("server")
            # The probe's connections keep the short limit: drop them, later ones use the caller's.
            set_socket_timeout(client, socket_timeout)
        else:
            server = EmbeddedServer(settings.data_dir)
            if server.ensure_running() and on_start is not None:
                on_start(f"started the embedded Valkey server in {server.dir} (it keeps running "
                         "for later commands; `ingestctl server stop` stops it)")
            client = server.client(socket_timeout=socket_timeout, retry=no_retries())
            info = client.info("server")
    except ValueError as exc:  # a malformed URL is a configuration error, not an outage
        raise ConfigError(f"ingest.redis.url (INGESTQ_REDIS_URL) {redact(url or '')!r} is not "
                          f"a valid Redis URL: {redact(str(exc))}") from None
    except CONNECT_ERRORS as exc:
        why = explain(url, client, exc) if url else str(exc)
        raise ConnectionFailed(f"cannot reach Redis at {redact(where)}: {redact(why)}") from None
    version = str(info.get("valkey_version") or info.get("redis_version", "0"))
    if tuple(int(p) for p in version.split(".")[:2]) < MIN_VERSION:
        raise ConnectionFailed(f"{redact(where)} runs version {version}; ingestq needs >= 6.2")
    if url and warn_risks:
        for risk in server_risks(client):
            get_logger("ingestq.connection").warning("server risk", server=redact(url),
                                                     risk=risk)
    # Later reconnects of the pool dial with the caller's limit. (A Cluster client has a pool per
    # node, built with the URL's timeouts.)
    pool = getattr(client, "connection_pool", None)
    if reconnect_timeout is not None and pool is not None:
        pool.connection_kwargs["socket_connect_timeout"] = reconnect_timeout
    return client


def deferred_client(url: str, *, socket_timeout: float, connect_timeout: float,
                    wait: float = 30.0) -> Redis:
    """A client for a configured server that cannot be reached yet: it dials on first use.

    Only a Cluster client talks to a node when it is made (it reads the slot table), which fails
    while a failover is under way: it is tried again with a backoff for up to ``wait`` seconds,
    then ConnectionFailed says why (as `connect` does, not a traceback).
    """
    deadline = time.monotonic() + wait
    delay = 0.2
    while True:
        try:
            return open_client(url, socket_timeout=socket_timeout,
                               connect_timeout=connect_timeout)[0]
        except CONNECT_ERRORS as exc:  # a Cluster with no node up raises RedisClusterException
            if time.monotonic() + delay > deadline:
                raise ConnectionFailed(f"cannot reach Redis at {redact(url)} after {wait:g} s: "
                                       f"{redact(explain(url, None, exc))}") from None
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def revive_embedded(settings: CoreSettings) -> None:
    """Restart the embedded server if it is down (a no-op on a configured URL); never raises.

    Called by every long-running process whose Redis call failed (worker threads, the reaper)
    and periodically by the service: whoever next needs the server restarts it, so no process
    waits for another to do so.
    """
    if settings.redis.url:
        return
    try:
        EmbeddedServer(settings.data_dir).ensure_running(timeout=5)
    except Exception as exc:
        get_logger("ingestq.connection").warning("embedded server restart failed", error=str(exc))


def server_risks(client: Redis) -> list[str]:
    """What could lose jobs on this server: an evicting memory policy, or no persistence."""
    risks = []
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "")
        if policy and policy not in EVICTING_SAFE:
            risks.append(f"maxmemory-policy is {policy}: under memory pressure the server may "
                         "evict job records; set it to noeviction")
    except ResponseError:
        pass  # CONFIG is disabled on some managed servers; persistence below still speaks
    persistence = client.info("persistence")
    save: str = ""
    try:
        save = str(client.config_get("save").get("save") or "")
    except ResponseError:
        save = "unknown"
    if not int(persistence.get("aof_enabled", 0)) and not save:
        risks.append("persistence is off (no AOF, no RDB snapshots): a server restart loses "
                     "every job; enable appendonly yes")
    return risks


class EmbeddedKeeper(threading.Thread):
    """Keeps the embedded server up for a process that only answers requests (the service).

    Without it a service left alone after the server died answered 503 until some other
    ingestq process restarted the server. One PING a second on the unix socket costs nothing.
    """

    def __init__(self, settings: CoreSettings, interval: float = 1.0) -> None:
        super().__init__(name="ingestq-embedded-keeper", daemon=True)
        self.settings = settings
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        """Ping; restart when nothing answers; until stopped."""
        server = EmbeddedServer(self.settings.data_dir)
        while not self.stopped.wait(self.interval):
            if not server.ping():
                revive_embedded(self.settings)
