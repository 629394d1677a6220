"""Durable transitions: a script call that returns only once replicas hold its writes.

With ``redis.min_replicas_acked: N`` every transition script is followed, on the same
connection, by ``WAIT N timeout`` (``WAITAOF 0 N timeout`` when the primary runs AOF and knows
the command, so the replicas have also written it to disk). ``WAIT`` counts the replicas that
acknowledged the connection's last write, which is why both go down one pipeline on one
connection: on a Cluster that is the connection to the primary holding the queue's slot.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from redis import Redis
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    RedisError,
    TryAgainError,
)

from ingestq.core.redis_url import is_cluster
from ingestq.errors import NotReplicated
from ingestq.logs import get_logger

# Script results the caller must not believe unless replicas hold them: a job that was never
# really enqueued (or retried out of the dead set) would otherwise be reported to exist.
MUST_CONFIRM = frozenset({"enqueue", "dead_retry"})
# Redirections and elections of a Cluster: the script did not run, so after re-reading the slot
# table it is sent once more (to the slot's new primary).
CLUSTER_MOVES = (MovedError, AskError, ClusterDownError, TryAgainError)
WARN_EVERY_SECONDS = 10.0  # one warning per interval while replicas lag, not one per call


class Replicated:
    """Runs scripts and waits for ``replicas`` replicas to acknowledge them."""

    def __init__(self, client: Redis, replicas: int, timeout_seconds: float) -> None:
        self.client = client
        self.replicas = replicas
        self.timeout_ms = max(1, int(timeout_seconds * 1000))
        self._wait_cmd: dict[str, tuple[str, ...]] = {}  # node name -> WAIT or WAITAOF prefix
        self.unconfirmed = 0  # transitions kept although too few replicas confirmed them
        self._warned = 0.0

    def _node(self, key: str) -> tuple[Redis, str]:
        if not is_cluster(self.client):
            return self.client, ""
        cluster = cast(RedisCluster, self.client)
        node = cluster.get_node_from_key(key)  # type: ignore[no-untyped-call]  # unannotated
        return cluster.get_redis_connection(node), str(node.name)

    def _wait_prefix(self, node: Redis, name: str) -> tuple[str, ...]:
        if name not in self._wait_cmd:
            # WAITAOF (Redis and Valkey 7.2+) only where the primary writes an AOF: replicas of a
            # primary without one are unlikely to keep one, and would never confirm.
            aof = int(node.info("persistence").get("aof_enabled", 0))
            version = str(node.info("server").get("redis_version", "0"))
            has_waitaof = tuple(int(p) for p in version.split(".")[:2]) >= (7, 2)
            self._wait_cmd[name] = ("WAITAOF", "0") if aof and has_waitaof else ("WAIT",)
        return self._wait_cmd[name]

    def run(self, name: str, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's result, once replicas hold it; NotReplicated when they did not in time.

        Only enqueue and dead_retry raise when unconfirmed: every other transition already
        happened on the primary and its result is what the caller must act on (a claimed job is
        run, an ack is not sent again); their safety across a failover is the fencing token's.
        """
        try:
            result, acked = self._send(script, keys, args)
        except CLUSTER_MOVES:
            self._refresh()
            result, acked = self._send(script, keys, args)
        got = int(acked[-1]) if isinstance(acked, list) else int(acked)
        if got < self.replicas:
            message = (f"{name}: {got} of {self.replicas} replicas confirmed within "
                       f"{self.timeout_ms} ms (redis.min_replicas_acked); the write may be lost "
                       "if the primary fails now")
            if name in MUST_CONFIRM:
                raise NotReplicated(message + ": retry it")
            self.unconfirmed += 1
            if time.monotonic() - self._warned > WARN_EVERY_SECONDS:
                self._warned = time.monotonic()
                get_logger("ingestq.replication").warning("replicas behind", detail=message)
        return result

    def _send(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, Any]:
        node, node_name = self._node(keys[0])
        try:
            prefix = self._wait_prefix(node, node_name)
            pipe = node.pipeline(transaction=False)
            script(keys=list(keys), args=list(args), client=pipe)
            pipe.execute_command(  # type: ignore[no-untyped-call]  # unannotated in redis-py
                *prefix, self.replicas, self.timeout_ms)
            result, acked = pipe.execute()
        except CLUSTER_MOVES:
            raise
        except RedisError:
            self._refresh()
            raise
        return result, acked

    def _refresh(self) -> None:
        """After a connection error on a Cluster, re-read which node serves which slot."""
        self._wait_cmd.clear()
        if is_cluster(self.client):
            cast(RedisCluster, self.client).nodes_manager.initialize()
