"""One URL names the whole topology: a server, a Sentinel-watched primary, or a Cluster.

- ``redis://``, ``rediss://``, ``unix://`` (and ``valkey://``, ``valkeys://``): one server,
  through redis-py's ``Redis.from_url``.
- ``redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]`` (``rediss+sentinel``
  for TLS; ``valkey+sentinel``, ``valkeys+sentinel`` alike): the Sentinels to ask and the service
  name; the user and password are the data nodes'. Query options: ``sentinel_username``,
  ``sentinel_password`` (the Sentinels' own credentials, when they have any), ``ssl_ca_certs``,
  ``ssl_certfile``, ``ssl_keyfile``, ``ssl_cert_reqs``.
- ``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster``,
  ``valkey+cluster``, ``valkeys+cluster``): any nodes of a Cluster, as seeds.

The clients are redis-py's own (``Sentinel.master_for``, ``RedisCluster``) with client-side retries
off: a script retried by the library after a lost reply could run twice (an enqueue copied), so
ingestq's callers own retries (see docs/architecture.md, "Replicas, Sentinel and Cluster").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

from redis import Redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True,
                    "valkey+sentinel": False, "valkeys+sentinel": True}
CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True,
                   "valkey+cluster": False, "valkeys+cluster": True}
SINGLE_ALIASES = {"valkey": "redis", "valkeys": "rediss"}
TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")
# A newly elected primary is found by asking the Sentinels again on the next connection; this
# bounds each of those questions so a dead Sentinel costs a second, not a socket timeout.
SENTINEL_SOCKET_TIMEOUT = 1.0


def no_retries() -> Retry:
    """No transparent retries: a retried script could run twice (an enqueue copied)."""
    return Retry(NoBackoff(), 0)


@dataclass(frozen=True)
class Topology:
    """What a URL names: ``mode`` single, sentinel or cluster, and how to reach it."""

    mode: str
    url: str
    hosts: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    options: dict[str, str] = field(default_factory=dict)


def parse(url: str) -> Topology:
    """Read a URL into a Topology; ValueError names what is wrong."""
    if "://" not in url:
        raise ValueError("expected scheme://..., e.g. redis://host:6379/0")
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme in SINGLE_ALIASES:
        return Topology("single", SINGLE_ALIASES[scheme] + "://" + rest)
    if scheme not in SENTINEL_SCHEMES and scheme not in CLUSTER_SCHEMES:
        return Topology("single", url)
    rest, _, query = rest.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    allowed = TLS_OPTIONS + (SENTINEL_OPTIONS if scheme in SENTINEL_SCHEMES else ())
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    netloc, _, path = rest.partition("/")
    username, password, hostlist = _credentials(netloc)
    hosts = tuple(_host_port(h) for h in hostlist.split(",") if h)
    if not hosts:
        raise ValueError("no host given")
    if scheme in CLUSTER_SCHEMES:
        if path.strip("/") not in ("", "0"):
            raise ValueError("a Cluster has only database 0; drop the path")
        return Topology("cluster", url, hosts, username=username, password=password,
                        tls=CLUSTER_SCHEMES[scheme], options=options)
    service, _, db = path.partition("/")
    if not service:
        raise ValueError("no Sentinel service name: redis+sentinel://host:port/<service>")
    if db and not db.isdigit():
        raise ValueError(f"database {db!r} is not a number")
    return Topology("sentinel", url, hosts, unquote(service), int(db or 0), username, password,
                    SENTINEL_SCHEMES[scheme], options)


def _credentials(netloc: str) -> tuple[str | None, str | None, str]:
    if "@" not in netloc:
        return None, None, netloc
    creds, hostlist = netloc.rsplit("@", 1)
    user, sep, password = creds.partition(":")
    return (unquote(user) or None), (unquote(password) if sep else None), hostlist


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"host {text!r} must be host:port")
    return host.strip("[]"), int(port)


def _tls_kwargs(topo: Topology) -> dict[str, Any]:
    if not topo.tls:
        return {}
    out: dict[str, Any] = {"ssl": True}
    out.update({k: topo.options[k] for k in TLS_OPTIONS if k in topo.options})
    return out


def open_client(url: str, *, socket_timeout: float | None,
                connect_timeout: float) -> tuple[Redis, Topology]:
    """A client for the URL's topology, with client-side retries off.

    A Cluster client is returned typed as ``Redis``: ``RedisCluster`` serves every command,
    script and pipeline ingestq uses with the same signatures (all of a queue's keys share one
    hash tag, so each call goes to the one primary holding that slot).
    """
    topo = parse(url)
    common: dict[str, Any] = {"decode_responses": True, "socket_timeout": socket_timeout,
                              "socket_connect_timeout": connect_timeout, "retry": no_retries()}
    if topo.mode == "single":
        return Redis.from_url(topo.url, **common), topo
    auth: dict[str, Any] = {"username": topo.username, "password": topo.password}
    if topo.mode == "cluster":
        # redis-py leaves ClusterNode, Sentinel and master_for unannotated
        nodes = [ClusterNode(h, p) for h, p in topo.hosts]  # type: ignore[no-untyped-call]
        cluster = RedisCluster(startup_nodes=nodes, **auth, **common, **_tls_kwargs(topo))
        return cast(Redis, cluster), topo
    sentinel_kwargs: dict[str, Any] = {
        "username": topo.options.get("sentinel_username"),
        "password": topo.options.get("sentinel_password"),
        "socket_timeout": SENTINEL_SOCKET_TIMEOUT,
        "socket_connect_timeout": min(connect_timeout, SENTINEL_SOCKET_TIMEOUT),
        "decode_responses": True, "retry": no_retries(), **_tls_kwargs(topo)}
    sentinel = Sentinel(list(topo.hosts),  # type: ignore[no-untyped-call]
                        sentinel_kwargs=sentinel_kwargs)
    client = sentinel.master_for(  # type: ignore[no-untyped-call]
        topo.service, db=topo.db, **auth, **common, **_tls_kwargs(topo))
    return cast(Redis, client), topo


def set_socket_timeout(client: Redis, timeout: float | None) -> None:
    """Give connections made from now on this command timeout, and drop the open ones."""
    if is_cluster(client):
        for node in cast(RedisCluster, client).get_nodes():  # type: ignore[no-untyped-call]
            if node.redis_connection is not None:
                set_socket_timeout(node.redis_connection, timeout)
        return
    client.connection_pool.connection_kwargs["socket_timeout"] = timeout
    client.connection_pool.disconnect()


def is_cluster(client: Redis) -> bool:
    """True for a Cluster client (typed as Redis, see :func:`open_client`)."""
    return isinstance(client, RedisCluster)
