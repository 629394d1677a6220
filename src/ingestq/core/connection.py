"""Connecting to Redis/Valkey: a configured URL, or the embedded server in the data directory."""

from __future__ import annotations

from collections.abc import Callable

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from ingestq.core.embedded import EmbeddedServer
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


def no_retries() -> Retry:
    # A transparently retried script could run twice (an enqueue copied); callers own retries.
    return Retry(NoBackoff(), 0)


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
    try:
        if url:
            probe = CONNECT_TIMEOUT if socket_timeout is None else min(socket_timeout,
                                                                      CONNECT_TIMEOUT)
            client = Redis.from_url(url, decode_responses=True, socket_timeout=probe,
                                    socket_connect_timeout=CONNECT_TIMEOUT, retry=no_retries())
            info = client.info("server")
            # The probe's connection keeps the short limit: drop it, later ones use the caller's.
            client.connection_pool.connection_kwargs["socket_timeout"] = socket_timeout
            client.connection_pool.disconnect()
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
    except (RedisError, OSError) as exc:
        hint = " (rediss:// needs a TLS server: is this one plain?)" if (
            url or "").startswith("rediss://") else ""
        raise ConnectionFailed(f"cannot reach Redis at {redact(where)}: {exc}{hint}") from None
    version = str(info.get("valkey_version") or info.get("redis_version", "0"))
    if tuple(int(p) for p in version.split(".")[:2]) < MIN_VERSION:
        raise ConnectionFailed(f"{redact(where)} runs version {version}; ingestq needs >= 6.2")
    if url and warn_risks:
        for risk in server_risks(client):
            get_logger("ingestq.connection").warning("server risk", server=redact(url),
                                                     risk=risk)
    if reconnect_timeout is not None:
        client.connection_pool.connection_kwargs["socket_connect_timeout"] = reconnect_timeout
    return client


def deferred_client(url: str, *, socket_timeout: float, connect_timeout: float) -> Redis:
    """A client for a configured server that cannot be reached yet: it dials on first use."""
    return Redis.from_url(url, decode_responses=True, socket_timeout=socket_timeout,
                          socket_connect_timeout=connect_timeout, retry=no_retries())


def revive_embedded(settings: CoreSettings) -> None:
    """Restart the embedded server if it is down (a no-op on a configured URL); never raises."""
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
