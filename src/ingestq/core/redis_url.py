"""One URL names the whole topology: a server, a Sentinel-watched primary, or a Cluster.

- ``redis://``, ``rediss://``, ``unix://`` (and ``valkey://``, ``valkeys://``): one server,
  through redis-py's ``Redis.from_url``.
- ``redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]`` (``rediss+sentinel``
  for TLS; ``valkey+sentinel``, ``valkeys+sentinel`` alike): the Sentinels to ask and the service
  name; the user and password are the data nodes'. Options ``sentinel_username``,
  ``sentinel_password``: the Sentinels' own credentials, when they have any.
- ``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster``,
  ``valkey+cluster``, ``valkeys+cluster``): any nodes of a Cluster, as seeds.

TLS options, on every TLS scheme (for Sentinel, the Sentinels and the data nodes alike):
``ssl_ca_certs`` (the CA file that signed the servers' certificates), ``ssl_ca_path``,
``ssl_certfile`` and ``ssl_keyfile`` (a client certificate, for servers that ask for one),
``ssl_password`` (of an encrypted key), ``ssl_cert_reqs`` (``required``, the default; ``none``
turns verification off), ``ssl_check_hostname`` (``true`` by default). An option the URL's form
does not take is refused naming it, not passed on to fail deep inside the first command.

The clients are redis-py's own (``Sentinel.master_for``, ``RedisCluster``) with client-side retries
off: a script retried by the library after a lost reply could run twice (an enqueue copied), so
ingestq's callers own retries (see docs/architecture.md, "Replicas, Sentinel and Cluster").
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

from redis import Redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool

from ingestq.core.settings import parse_flag

SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True,
                    "valkey+sentinel": False, "valkeys+sentinel": True}
CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True,
                   "valkey+cluster": False, "valkeys+cluster": True}
SINGLE_ALIASES = {"valkey": "redis", "valkeys": "rediss"}
SINGLE_SCHEMES = {"redis": False, "rediss": True, "unix": False}
TLS_OPTIONS = ("ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile", "ssl_password",
               "ssl_cert_reqs", "ssl_check_hostname")
TLS_FILES = ("ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile")  # must exist
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")
# redis-py's own URL options that ingestq leaves to the operator. Not the timeouts or retry
# options: ingestq sets those per process (a retried script could run twice).
SINGLE_OPTIONS = ("db", "username", "password", "client_name", "health_check_interval")
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
        scheme, url = SINGLE_ALIASES[scheme], SINGLE_ALIASES[scheme] + "://" + rest
    rest, _, query = rest.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    if scheme in SINGLE_SCHEMES:
        _check_options(options, SINGLE_OPTIONS, tls=SINGLE_SCHEMES[scheme])
        return Topology("single", url, tls=SINGLE_SCHEMES[scheme], options=options)
    if scheme not in SENTINEL_SCHEMES and scheme not in CLUSTER_SCHEMES:
        # redis-py names the schemes it takes; ours are added to its message
        raise ValueError(f"unknown scheme {scheme}://; use redis://, rediss://, unix://, "
                         "valkey://, valkeys://, redis+sentinel://, redis+cluster:// (or their "
                         "rediss+ and valkey(s)+ forms)")
    tls = SENTINEL_SCHEMES.get(scheme, CLUSTER_SCHEMES.get(scheme, False))
    _check_options(options, SENTINEL_OPTIONS if scheme in SENTINEL_SCHEMES else (), tls=tls)
    netloc, _, path = rest.partition("/")
    username, password, hostlist = _credentials(netloc)
    hosts = tuple(_host_port(h) for h in hostlist.split(",") if h)
    if not hosts:
        raise ValueError("no host given")
    if scheme in CLUSTER_SCHEMES:
        if path.strip("/") not in ("", "0"):
            raise ValueError("a Cluster has only database 0; drop the path")
        return Topology("cluster", url, hosts, username=username, password=password,
                        tls=tls, options=options)
    service, _, db = path.partition("/")
    if not service:
        raise ValueError("no Sentinel service name: redis+sentinel://host:port/<service>")
    if db and not db.isdigit():
        raise ValueError(f"database {db!r} is not a number")
    return Topology("sentinel", url, hosts, unquote(service), int(db or 0), username, password,
                    tls, options)


def _check_options(options: dict[str, str], own: tuple[str, ...], *, tls: bool) -> None:
    """Refuse options the URL's form does not take, and TLS options on a plain scheme.

    Both used to pass silently: redis-py failed with a TypeError deep inside the first command
    on a misspelt option, and a Sentinel or Cluster URL without the ``s`` dropped its TLS
    options and connected in the clear.
    """
    allowed = own + TLS_OPTIONS
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        guesses = [g for u in unknown for g in difflib.get_close_matches(u, allowed, 1)]
        raise ValueError(f"unknown option(s) {', '.join(unknown)}"
                         + (f" (did you mean {', '.join(guesses)}?)" if guesses else "")
                         + f"; allowed: {', '.join(allowed)}")
    plain = sorted(set(options) & set(TLS_OPTIONS)) if not tls else []
    if plain:
        raise ValueError(f"{', '.join(plain)} only apply to TLS: use rediss:// (or "
                         "rediss+sentinel://, rediss+cluster://, valkeys...)")


def check_tls_files(topo: Topology) -> None:
    """The certificate and key files the URL names exist (ValueError naming the one missing).

    Checked before connecting: a missing file otherwise surfaces as a bare "No such file or
    directory" from the TLS handshake, with no word of which option named it.
    """
    for key in TLS_FILES:
        path = topo.options.get(key)
        if path is not None and not os.path.exists(path):
            raise ValueError(f"{key}: {path} does not exist")


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
    if "ssl_check_hostname" in out:  # a string "false" would be true
        out["ssl_check_hostname"] = _flag("ssl_check_hostname", out["ssl_check_hostname"])
    return out


def _flag(name: str, value: str) -> bool:
    try:
        return parse_flag(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not true or false") from None


def open_client(url: str, *, socket_timeout: float | None,
                connect_timeout: float) -> tuple[Redis, Topology]:
    """A client for the URL's topology, with client-side retries off.

    A Cluster client is returned typed as ``Redis``: ``RedisCluster`` serves every command,
    script and pipeline ingestq uses with the same signatures (all of a queue's keys share one
    hash tag, so each call goes to the one primary holding that slot).
    """
    topo = parse(url)
    check_tls_files(topo)
    common: dict[str, Any] = {"decode_responses": True, "socket_timeout": socket_timeout,
                              "socket_connect_timeout": connect_timeout, "retry": no_retries()}
    if topo.mode == "single":
        return Redis.from_url(topo.url, **common), topo
    auth: dict[str, Any] = {"username": topo.username, "password": topo.password}
    if topo.mode == "cluster":
        # redis-py leaves ClusterNode, Sentinel and master_for unannotated
        nodes = [ClusterNode(h, p) for h, p in topo.hosts]  # type: ignore[no-untyped-call]
        cluster = RedisCluster(startup_nodes=nodes, **auth, **common, **_tls_kwargs(topo))
        _no_node_is_a_connection_error(cluster)
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


def _no_node_is_a_connection_error(cluster: RedisCluster) -> None:
    """Make "no node answered" a ConnectionError, which every caller already retries.

    After a connection error redis-py re-reads the slot table from any node; when none answers
    (the whole Cluster unreachable for a moment) it raises RedisClusterException, which is not a
    RedisError: worker threads, the reaper and the service treated it as a bug and went down
    instead of retrying. Pipelines share the client's NodesManager, so this covers them too.
    """
    manager = cluster.nodes_manager
    initialize = manager.initialize

    def reinitialize(*args: Any, **kwargs: Any) -> Any:
        try:
            return initialize(*args, **kwargs)
        except RedisClusterException as exc:
            raise RedisConnectionError(str(exc)) from exc

    manager.initialize = reinitialize  # type: ignore[method-assign]


def set_socket_timeout(client: Redis, timeout: float | None) -> None:
    """Give connections made from now on this command timeout, and drop the open ones."""
    if is_cluster(client):
        for node in cast(RedisCluster, client).get_nodes():  # type: ignore[no-untyped-call]
            if node.redis_connection is not None:
                set_socket_timeout(node.redis_connection, timeout)
        return
    client.connection_pool.connection_kwargs["socket_timeout"] = timeout
    client.connection_pool.disconnect()


def explain(url: str, client: Redis | None, exc: BaseException) -> str:
    """Why connecting to ``url`` failed, in words an operator can act on (and a TLS hint).

    redis-py's "No master found" names each Sentinel by its client's repr and drops the cause
    (a refused certificate, a closed port): the Sentinels are asked again here, one by one.
    """
    if isinstance(exc, MasterNotFoundError) and client is not None:
        text = _why_no_primary(client)
    else:
        text = str(exc)
    try:
        tls = parse(url).tls
    except ValueError:
        tls = False
    return text + tls_hint(text, tls=tls)


def _why_no_primary(client: Redis) -> str:
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    manager: Sentinel = pool.sentinel_manager
    said: dict[str, list[str]] = {}  # what a Sentinel said -> the Sentinels that said it
    for sentinel in manager.sentinels:
        kwargs = sentinel.connection_pool.connection_kwargs
        where = f"{kwargs.get('host')}:{kwargs.get('port')}"
        try:
            sentinel.ping()
        except RedisError as exc:
            said.setdefault(str(exc).replace(where, "the Sentinel"), []).append(where)
    if sum(len(w) for w in said.values()) == len(manager.sentinels):
        return "no Sentinel answered: " + "; ".join(f"{', '.join(where)}: {text}"
                                                     for text, where in said.items())
    return (f"the Sentinels know no healthy primary for service {pool.service_name!r}: is the "
            "service name right, and is its primary up?")


# What a failure's text says on a TLS URL (True) or a plain one (False), and what to check.
TLS_HINTS = (
    (True, "CERTIFICATE_VERIFY_FAILED", "the server's certificate was refused: is it signed by "
     "the CA in ssl_ca_certs, and does it name the host in the URL (ssl_check_hostname)?"),
    (True, "CERTIFICATE_REQUIRED", "the server asks for a client certificate: set ssl_certfile "
     "and ssl_keyfile"),
    # the same refusal when the server's alert arrives after the client's first write (TLS 1.3)
    (True, "EOF occurred in violation of protocol", "the server ended the TLS session: if it "
     "asks for a client certificate, set ssl_certfile and ssl_keyfile"),
    (True, "WRONG_VERSION_NUMBER", "is the server speaking TLS on that port?"),
    # a plain server leaves a TLS handshake waiting for an answer that never comes
    (True, "Timeout", "is the server speaking TLS on that port?"),
    (False, "reset by peer", "a TLS-only server drops plain connections: rediss:// if it "
     "speaks TLS?"),
)


def tls_hint(text: str, *, tls: bool) -> str:
    """A parenthesised hint for a known TLS failure in ``text``, or ''."""
    for on_tls, marker, hint in TLS_HINTS:
        if on_tls == tls and marker in text:
            return f" ({hint})"
    return ""


CONNECT_ERRORS = (RedisError, RedisClusterException, OSError)  # what opening a client raises


def is_cluster(client: Redis) -> bool:
    """True for a Cluster client (typed as Redis, see :func:`open_client`)."""
    return isinstance(client, RedisCluster)
