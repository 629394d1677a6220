"""Real replicated topologies from Debian's redis-server, on private ports and directories.

- :class:`SentinelSet`: a primary, one replica and three Sentinels (quorum 2).
- :class:`ClusterSet`: a Redis Cluster of three primaries with one replica each.
- :class:`Tls`: a throwaway CA and certificates (made with ``openssl``); passed to any of the
  above (and :func:`start_single`), every node speaks TLS only (``port 0``), replication,
  Sentinel and the cluster bus included, and asks clients for a certificate (mutual TLS).

Both are started once per test session (tests/topology.py) and by bench/failover.py; each node is
a child process in its own session, so ``kill -9`` of a node is a real crash, and ``stop`` removes
every process and the directory. Timeouts are short (1 s to call a node down) so a failover
finishes in a few seconds instead of the production default of 30 s or more.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

SERVER = os.environ.get("INGESTQ_TEST_REDIS_SERVER", "/usr/bin/redis-server")
SERVICE = "ingestq"  # the Sentinel service name
DOWN_AFTER_MS = 1000  # Sentinel: a primary silent this long is subjectively down
NODE_TIMEOUT_MS = 1000  # Cluster: the same for a cluster node


def available() -> bool:
    """True when the redis-server binary these topologies need is installed."""
    return os.access(SERVER, os.X_OK)


def _free_base(count: int, bus: bool) -> int:
    """A port base with ``count`` free ports (and their +10000 cluster bus ports)."""
    for _ in range(200):
        base = random.randrange(20000, 29000)
        ports = [base + i for i in range(count)]
        if bus:
            ports += [p + 10000 for p in ports]
        if all(_port_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range found for a test topology")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (RedisError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


@dataclass(frozen=True)
class Tls:
    """A CA made for one test run, a server and a client certificate it signed (for 127.0.0.1).

    EC keys: a few milliseconds each where RSA takes a noticeable share of a second.
    """

    dir: Path

    @classmethod
    def make(cls, directory: Path) -> Tls:
        """Write ca.crt, server.crt/.key and client.crt/.key into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        tls = cls(directory)
        key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _openssl("req", "-x509", *key, "-keyout", tls.file("ca.key"), "-out", tls.ca,
                 "-days", "2", "-subj", "/CN=ingestq test CA")
        (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        for name in ("server", "client"):
            _openssl("req", *key, "-keyout", tls.file(f"{name}.key"), "-out",
                     tls.file(f"{name}.csr"), "-subj", f"/CN=ingestq test {name}")
            _openssl("x509", "-req", "-in", tls.file(f"{name}.csr"), "-CA", tls.ca, "-CAkey",
                     tls.file("ca.key"), "-CAcreateserial", "-days", "2", "-extfile",
                     tls.file("san.ext"), "-out", tls.file(f"{name}.crt"))
        return tls

    def file(self, name: str) -> str:
        """The path of one of the files, as a string for command lines and URLs."""
        return str(self.dir / name)

    @property
    def ca(self) -> str:
        """The CA certificate: what clients and servers trust."""
        return self.file("ca.crt")

    def server_args(self) -> list[str]:
        """redis-server options: this certificate, and clients must show one from the CA.

        (A replica, a Sentinel and a cluster node present the same certificate as a client.)
        """
        return ["--tls-cert-file", self.file("server.crt"), "--tls-key-file",
                self.file("server.key"), "--tls-ca-cert-file", self.ca,
                "--tls-auth-clients", "yes"]

    def query(self, ca: str | None = None) -> str:
        """The URL options an operator sets: the CA (``ca`` overrides it) and the client pair."""
        return (f"ssl_ca_certs={ca or self.ca}&ssl_certfile={self.file('client.crt')}"
                f"&ssl_keyfile={self.file('client.key')}")

    def client_kwargs(self) -> dict[str, object]:
        """The same for redis-py's own client (this helper's checks)."""
        return {"ssl": True, "ssl_ca_certs": self.ca, "ssl_certfile": self.file("client.crt"),
                "ssl_keyfile": self.file("client.key")}


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def _with_query(url: str, *queries: str) -> str:
    query = "&".join(q for q in queries if q)
    return url + (f"?{query}" if query else "")


@dataclass
class Node:
    """One redis-server process (data node or Sentinel)."""

    port: int
    dir: Path
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    password: str | None = None  # the node's requirepass, for this helper's own checks
    tls: Tls | None = None  # the node speaks only TLS

    def start(self, *extra: str) -> None:
        """Start (or restart) the process with its original arguments (plus ``extra``)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen([SERVER, *self.args, *extra], cwd=self.dir, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        _wait(lambda: self.client().ping(), 10, f"redis-server on port {self.port}")

    def client(self) -> Redis:
        """A short-timeout client on this node alone."""
        tls = self.tls.client_kwargs() if self.tls else {}
        return Redis(port=self.port, decode_responses=True, socket_timeout=2,
                     socket_connect_timeout=1, password=self.password,
                     **tls)  # type: ignore[arg-type]

    def kill(self) -> None:
        """kill -9: no shutdown, no final write."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    @property
    def alive(self) -> bool:
        """The process is running."""
        return self.proc is not None and self.proc.poll() is None


def _listen_args(port: int, tls: Tls | None) -> list[str]:
    """Listen on ``port``: plain, or TLS only (port 0 closes the plain one)."""
    if tls is None:
        return ["--port", str(port)]
    return ["--port", "0", "--tls-port", str(port), *tls.server_args(),
            "--tls-replication", "yes"]


def _data_args(port: int, tls: Tls | None = None) -> list[str]:
    # No persistence: these topologies measure replication, not disk; a restarted node resyncs.
    return [*_listen_args(port, tls), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--protected-mode", "no", "--maxmemory-policy", "noeviction"]


def _cluster(node: Node, sub: str) -> str:
    """The text reply of CLUSTER <sub> (NODES, INFO) from one node."""
    reply = node.client().execute_command("CLUSTER", sub)
    return reply if isinstance(reply, str) else str(reply)


def start_single(root: Path, *, tls: Tls | None = None) -> Node:
    """One server alone (a baseline for the replicated topologies)."""
    port = _free_base(1, bus=False)
    node = Node(port, root, _data_args(port, tls), tls=tls)
    node.start()
    return node


def single_url(node: Node, query: str = "") -> str:
    """The ingestq URL of a server from :func:`start_single` (rediss:// and its options on TLS)."""
    scheme = "rediss" if node.tls else "redis"
    return _with_query(f"{scheme}://127.0.0.1:{node.port}/0",
                       node.tls.query() if node.tls else "", query)


@dataclass
class SentinelSet:
    """A primary with one replica, watched by three Sentinels."""

    root: Path
    nodes: list[Node] = field(default_factory=list)  # data nodes: [0] starts as primary
    sentinels: list[Node] = field(default_factory=list)
    tls: Tls | None = None

    @classmethod
    def start(cls, root: Path | None = None, *, password: str | None = None,
              sentinel_password: str | None = None, tls: Tls | None = None) -> SentinelSet:
        """Start the five processes and wait until the Sentinels see the replica and each other.

        ``password``: the data nodes' requirepass (and masterauth); ``sentinel_password``: the
        Sentinels' own; ``tls``: every link is TLS (clients, replication, Sentinels).
        """
        root = root or Path(tempfile.mkdtemp(prefix="ingestq-sentinel-"))
        base = _free_base(5, bus=False)
        topo = cls(root, tls=tls)
        auth = ["--requirepass", password, "--masterauth", password] if password else []
        try:
            primary = Node(base, root / "n0", [*_data_args(base, tls), *auth], password=password,
                           tls=tls)
            replica = Node(base + 1, root / "n1", [*_data_args(base + 1, tls), *auth,
                                                   "--replicaof", "127.0.0.1", str(base)],
                           password=password, tls=tls)
            topo.nodes = [primary, replica]
            for node in topo.nodes:
                node.start()
            for i in range(3):
                port = base + 2 + i
                conf = root / f"s{i}" / "sentinel.conf"
                conf.parent.mkdir(parents=True)
                # Sentinel takes the same options in its file; tls-replication makes it reach
                # the data nodes over TLS too
                args = _listen_args(port, tls)
                listen = "\n".join(f"{k[2:]} {v}" for k, v in zip(args[::2], args[1::2],
                                                                   strict=True))
                conf.write_text(
                    f"{listen}\nbind 127.0.0.1\nprotected-mode no\n"
                    f"sentinel monitor {SERVICE} 127.0.0.1 {base} 2\n"
                    f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                    f"sentinel failover-timeout {SERVICE} 10000\n"
                    f"sentinel parallel-syncs {SERVICE} 1\n"
                    + (f"sentinel auth-pass {SERVICE} {password}\n" if password else "")
                    + (f"requirepass {sentinel_password}\nsentinel sentinel-pass "
                       f"{sentinel_password}\n" if sentinel_password else ""))
                sentinel = Node(port, conf.parent, [str(conf), "--sentinel"],
                                password=sentinel_password, tls=tls)
                sentinel.start()
                topo.sentinels.append(sentinel)
            topo.wait_healthy()
        except BaseException:
            topo.stop()
            raise
        return topo

    def url(self, scheme: str | None = None, query: str = "") -> str:
        """The ingestq URL naming the three Sentinels and the service (TLS options on TLS)."""
        scheme = scheme or ("rediss+sentinel" if self.tls else "redis+sentinel")
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return _with_query(f"{scheme}://{hosts}/{SERVICE}",
                           self.tls.query() if self.tls else "", query)

    def primary(self) -> Node:
        """The data node the Sentinels currently call primary."""
        _host, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(SERVICE)
        return next(n for n in self.nodes if n.port == int(port))

    def heal(self, killed: Node, timeout: float = 30) -> None:
        """Once the Sentinels have promoted another node, restart ``killed`` as its replica.

        As a supervisor would: the node asks who the primary is before it starts (left alone,
        Sentinel converts a returning old primary only after about ten seconds).
        """
        _wait(lambda: self.primary() is not killed, timeout, "the Sentinels to promote a replica")
        killed.start("--replicaof", "127.0.0.1", str(self.primary().port))

    def _healthy(self) -> bool:
        for s in self.sentinels:
            master = s.client().sentinel_master(SERVICE)
            if (int(master["num-other-sentinels"]) < 2 or int(master["num-slaves"]) < 1
                    or "s_down" in str(master["flags"])):
                return False
            replicas = s.client().sentinel_slaves(SERVICE)
            if not any("s_down" not in str(r["flags"]) and r.get("master-link-status") == "ok"
                       for r in replicas):
                return False
        return bool(self.primary().client().info("replication")["connected_slaves"] >= 1)

    def wait_healthy(self, timeout: float = 40) -> None:
        """Restart dead data nodes, then wait for a primary with a linked replica."""
        for node in self.nodes:
            if not node.alive:
                node.start()
        _wait(self._healthy, timeout, "the Sentinels to see a primary with a linked replica")

    def stop(self) -> None:
        """Kill every process and remove the directory."""
        for node in [*self.sentinels, *self.nodes]:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)


SLOT_RANGES = ((0, 5460), (5461, 10922), (10923, 16383))


@dataclass
class ClusterSet:
    """A Redis Cluster: three primaries (slots split evenly), one replica each."""

    root: Path
    nodes: list[Node] = field(default_factory=list)
    tls: Tls | None = None

    @classmethod
    def start(cls, root: Path | None = None, *, tls: Tls | None = None) -> ClusterSet:
        """Start six nodes, assign slots and replicas, and wait for cluster_state ok.

        ``tls``: clients, replication and the cluster bus all over TLS.
        """
        root = root or Path(tempfile.mkdtemp(prefix="ingestq-cluster-"))
        base = _free_base(6, bus=True)
        topo = cls(root, tls=tls)
        bus_tls = ["--tls-cluster", "yes"] if tls else []
        try:
            for i in range(6):
                port = base + i
                topo.nodes.append(Node(port, root / f"n{i}", [
                    *_data_args(port, tls), *bus_tls, "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                    # a replica may always take over, however long it was disconnected
                    "--cluster-replica-validity-factor", "0"], tls=tls))
            for node in topo.nodes:
                node.start()
            topo._form()
            topo.wait_healthy()
        except BaseException:
            topo.stop()
            raise
        return topo

    def _form(self) -> None:
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.client().execute_command("CLUSTER", "MEET", "127.0.0.1", first.port)
        for node, (lo, hi) in zip(self.nodes[:3], SLOT_RANGES, strict=True):
            node.client().execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
        _wait(lambda: all(len(_cluster(n, "NODES").splitlines()) == 6 for n in self.nodes), 20,
              "every cluster node to know the other five")
        for primary, replica in zip(self.nodes[:3], self.nodes[3:], strict=True):
            node_id = primary.client().execute_command("CLUSTER", "MYID")
            _wait(lambda r=replica, nid=node_id: r.client().execute_command(
                "CLUSTER", "REPLICATE", nid), 20, f"replica on {replica.port} to attach")

    def url(self, scheme: str | None = None, query: str = "") -> str:
        """The ingestq URL naming two seed nodes (any node would do; TLS options on TLS)."""
        scheme = scheme or ("rediss+cluster" if self.tls else "redis+cluster")
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:2])
        return _with_query(f"{scheme}://{hosts}", self.tls.query() if self.tls else "", query)

    def primary_for(self, key: str) -> Node:
        """The node currently serving the slot of ``key``."""
        live = next(n for n in self.nodes if n.alive)
        slot = int(live.client().execute_command("CLUSTER", "KEYSLOT", key))
        for lo, hi, primary, *_ in live.client().execute_command("CLUSTER", "SLOTS"):
            if int(lo) <= slot <= int(hi):
                port = int(primary[1])
                return next(n for n in self.nodes if n.port == port)
        raise RuntimeError(f"slot {slot} is not served")

    def heal(self, killed: Node, timeout: float = 30) -> None:
        """Once a replica has taken over ``killed``'s slots, restart it (it rejoins as replica)."""
        _wait(lambda: not self._serves(killed), timeout,
              "a replica to take over the killed primary's slots")
        killed.start()

    def _serves(self, node: Node) -> bool:
        live = next(n for n in self.nodes if n.alive)
        return any(int(primary[1]) == node.port for _lo, _hi, primary, *_ in
                   live.client().execute_command("CLUSTER", "SLOTS"))

    def _healthy(self) -> bool:
        primaries = 0
        for node in self.nodes:
            c = node.client()
            if "cluster_state:ok" not in _cluster(node, "INFO"):
                return False
            repl = c.info("replication")
            if repl["role"] == "master":
                primaries += int(repl["connected_slaves"]) >= 1
            elif repl.get("master_link_status") != "up":
                return False
        return primaries == 3

    def wait_healthy(self, timeout: float = 40) -> None:
        """Restart dead nodes (they rejoin as replicas), then wait for 3 primaries with replicas."""
        for node in self.nodes:
            if not node.alive:
                node.start()
        _wait(self._healthy, timeout, "cluster_state ok with every primary replicated")

    def stop(self) -> None:
        """Kill every process and remove the directory."""
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)
