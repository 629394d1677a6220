"""Replicated topologies: URLs, fencing across a promotion, queues spread over Cluster primaries."""

from __future__ import annotations

import time

import pytest
from redis import Redis
from redis.exceptions import RedisError
from support.clusters import SERVICE, ClusterSet, SentinelSet

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.connection import connect, deferred_client, redact
from ingestq.core.keys import QueueKeys
from ingestq.core.queue import Queue
from ingestq.core.redis_url import parse
from ingestq.core.settings import QueueSettings
from ingestq.errors import ConnectionFailed, LeaseLost, NotReplicated


def test_a_sentinel_url_names_sentinels_service_database_credentials_and_tls() -> None:
    t = parse("valkeys+sentinel://app:s%40cret@10.0.0.1:26379,10.0.0.2:26380/jobs/2"
              "?sentinel_password=sp&ssl_ca_certs=/ca.pem")
    assert t.mode == "sentinel" and t.service == "jobs" and t.db == 2
    assert t.hosts == (("10.0.0.1", 26379), ("10.0.0.2", 26380))
    assert (t.username, t.password, t.tls) == ("app", "s@cret", True)
    assert t.options == {"sentinel_password": "sp", "ssl_ca_certs": "/ca.pem"}


def test_a_cluster_url_takes_any_nodes_as_seeds() -> None:
    t = parse("redis+cluster://:pw@n1:7000,n2:7001")
    assert (t.mode, t.hosts, t.password, t.tls) == ("cluster", (("n1", 7000), ("n2", 7001)),
                                                   "pw", False)


@pytest.mark.parametrize(("url", "problem"), [
    ("redis+sentinel://h:26379", "service name"),
    ("redis+sentinel://h:26379/svc?sentinel_pasword=x", "unknown option"),
    ("redis+cluster://h:7000/3", "database 0"),
    ("redis+cluster://h", "host:port"),
])
def test_a_malformed_topology_url_is_refused_naming_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse(url)


def test_passwords_in_the_user_part_and_in_options_are_masked() -> None:
    masked = redact("redis+sentinel://u:secret1@h:1/svc?sentinel_password=secret2&ssl_cert_reqs=x")
    assert "secret" not in masked and "ssl_cert_reqs=x" in masked


def test_valkey_schemes_of_one_server_are_redis_schemes() -> None:
    assert parse("valkeys://h:6380/1").url == "rediss://h:6380/1"


def test_a_new_primary_that_missed_a_claim_mints_a_higher_token_and_refuses_the_old_ack(
        queue: Queue, client: Redis) -> None:
    queue.enqueue("x", {})
    held = queue.claim("w1", 1).jobs[0]
    # What a promoted replica holds when the claim never reached it: the job still pending at
    # its previous token, and a replication id other than the one the tokens were minted under.
    k = queue.keys
    client.hset(k.job(held.id), mapping={"state": "pending", "token": "0", "attempts": "0"})
    client.zrem(k.processing, held.id)
    client.zrem(k.claimed, held.id)
    client.rpush(k.pending("x"), held.id)
    client.hset(k.fence, "replid", "replication-id-of-the-dead-primary")
    again = queue.claim("w2", 1).jobs[0]
    assert again.id == held.id and int(again.token) > int(held.token)
    with pytest.raises(LeaseLost):
        queue.ack(held.id, held.token)
    queue.ack(again.id, again.token)
    # and under the same primary tokens keep counting from there
    queue.enqueue("x", {})
    nxt = queue.claim("w3", 1).jobs[0]
    assert int(nxt.token) == int(again.token)


def test_an_enqueue_no_replica_confirms_raises_instead_of_reporting_a_job(
        client: Redis, settings: IngestSettings) -> None:
    # the test server has no replica: asking for one can never be confirmed
    durable = settings.model_copy(update={"redis": settings.redis.model_copy(
        update={"min_replicas_acked": 1, "replica_ack_timeout_seconds": 0.05})})
    with pytest.raises(NotReplicated, match="0 of 1 replicas"):
        Queue(client, durable).enqueue("x", {})


@pytest.mark.slow
def test_three_queues_spread_over_the_three_primaries_each_on_its_own_slot(
        cluster_set: ClusterSet, base_settings: IngestSettings) -> None:
    topo = cluster_set
    url = topo.url()
    client = connect(base_settings.model_copy(update={"redis": base_settings.redis.model_copy(
        update={"url": url})}), warn_risks=False)
    ranges = [(0, 5460), (5461, 10922), (10923, 16383)]
    names: list[str] = []
    for lo, hi in ranges:  # the docs' recipe: pick names whose slots fall on different primaries
        names.append(next(f"docs-{i}" for i in range(1000) if f"docs-{i}" not in names
                          and lo <= QueueKeys(f"docs-{i}").slot <= hi))
    owners = set()
    for name in names:
        q = Queue(client, base_settings.model_copy(update={"queue": QueueSettings(name=name)}))
        q.enqueue("x", {"q": name})
        job = q.claim("w", 1).jobs[0]
        q.ack(job.id, job.token)
        assert queries.counts(q)["done"] >= 1
        owner = topo.primary_for(q.keys.seq)
        assert owner.client().exists(q.keys.done) == 1
        owners.add(owner.port)
    assert len(owners) == 3


@pytest.mark.slow
def test_a_password_protected_sentinel_set_is_reached_with_both_passwords_and_masks_them(
        base_settings: IngestSettings) -> None:
    topo = SentinelSet.start(password="data-secret", sentinel_password="sentinel-secret")
    try:
        hosts = topo.url().split("://", 1)[1].split("/", 1)[0]

        def settings_for(password: str) -> IngestSettings:
            url = (f"redis+sentinel://:{password}@{hosts}/{SERVICE}"
                   "?sentinel_password=sentinel-secret")
            return base_settings.model_copy(update={"redis": base_settings.redis.model_copy(
                update={"url": url, "min_replicas_acked": 1})})

        good = settings_for("data-secret")
        q = Queue(connect(good, warn_risks=False), good)
        q.enqueue("x", {})
        job = q.claim("w", 1).jobs[0]
        q.ack(job.id, job.token)
        assert queries.counts(q)["done"] == 1
        with pytest.raises(ConnectionFailed) as refused:
            connect(settings_for("wrong-secret"), warn_risks=False)
        assert "secret" not in str(refused.value)
    finally:
        topo.stop()


def _on(base: IngestSettings, url: str) -> IngestSettings:
    return base.model_copy(update={"redis": base.redis.model_copy(update={"url": url})})


def test_sentinels_that_do_not_answer_are_named_with_what_went_wrong(
        base_settings: IngestSettings) -> None:
    # redis-py's own message was "No master found" and the repr of each Sentinel client
    with pytest.raises(ConnectionFailed) as refused:
        connect(_on(base_settings, "redis+sentinel://127.0.0.1:1,127.0.0.1:2/svc"),
                warn_risks=False)
    assert "no Sentinel answered: 127.0.0.1:1, 127.0.0.1:2: " in str(refused.value)
    assert "refused" in str(refused.value) and "Redis<" not in str(refused.value)


@pytest.mark.slow
def test_a_service_the_sentinels_do_not_watch_is_named(
        sentinel_set: SentinelSet, base_settings: IngestSettings) -> None:
    url = sentinel_set.url().replace(f"/{SERVICE}", "/nosuch")
    with pytest.raises(ConnectionFailed, match="no healthy primary for service 'nosuch'"):
        connect(_on(base_settings, url), warn_risks=False)


@pytest.mark.slow
def test_a_cluster_with_no_node_answering_raises_a_redis_error_and_the_client_recovers(
        cluster_set: ClusterSet, base_settings: IngestSettings) -> None:
    settings = _on(base_settings, cluster_set.url()).model_copy(
        update={"queue": QueueSettings(name="all-down")})
    queue = Queue(connect(settings, warn_risks=False), settings)
    queue.enqueue("x", {})
    for node in cluster_set.nodes:  # every node: redis-py then finds none to ask for slots
        node.kill()
    try:
        # a RedisError, which the worker, reaper and service retry (RedisClusterException was
        # not one: it took them down)
        with pytest.raises(RedisError):
            queue.enqueue("x", {})
    finally:
        cluster_set.wait_healthy()  # restarts the nodes; they rejoin from their nodes.conf
    deadline = time.monotonic() + 30
    while True:  # the same client, once the Cluster answers again
        try:
            queue.enqueue("x", {})
            break
        except RedisError:
            assert time.monotonic() < deadline, "the client did not recover"
            time.sleep(0.2)


def test_a_cluster_the_service_never_reaches_ends_in_a_message_not_a_traceback() -> None:
    # `ingestctl serve` starts on a deferred client; a Cluster client must reach a node to exist
    with pytest.raises(ConnectionFailed, match=r"Redis at redis\+cluster.*after 0.3 s"):
        deferred_client("redis+cluster://127.0.0.1:1", socket_timeout=1, connect_timeout=1,
                        wait=0.3)
