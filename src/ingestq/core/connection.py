"""Connecting to Redis/Valkey: a configured URL, or the embedded server in the data directory."""

from __future__ import annotations

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from ingestq.config import IngestSettings
from ingestq.core.embedded import EmbeddedServer
from ingestq.errors import ConnectionFailed
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


def connect(settings: IngestSettings, *, socket_timeout: float | None = 30.0,
            warn_risks: bool = True) -> Redis:
    """A checked client: the configured URL, else the embedded server (started if needed).

    On a configured server, each risk to the jobs (evicting memory policy, no persistence) is
    logged as a warning at start.
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
            server.ensure_running()
            client = server.client(socket_timeout=socket_timeout, retry=no_retries())
            info = client.info("server")
    except ValueError as exc:
        shown = redact(url or "")
        raise ConnectionFailed(f"invalid Redis URL {shown!r}: {redact(str(exc))}") from None
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
    return client


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
