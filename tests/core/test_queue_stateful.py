"""Random sequences of every transition against the real server, checking invariants each step.

After every step: each job is in exactly one state structure and its record agrees; the
claim-time index matches the leases; counters balance (enqueued = pending + scheduled +
processing + done + dead + purged + trimmed); a stale token never changes anything.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from redis import Redis
from support.settings import fast_settings

from ingestq.config import IngestSettings
from ingestq.core import queries
from ingestq.core.job import error_entry, exception_entry
from ingestq.core.queue import ManualClock, Queue
from ingestq.errors import JobNotFound, LeaseLost

KINDS = ("a", "b", "c")


class QueueMachine(RuleBasedStateMachine):
    """Drives one fresh queue with a hand-moved clock."""

    client: ClassVar[Redis]
    base: ClassVar[IngestSettings]

    def __init__(self) -> None:
        super().__init__()
        s = fast_settings(self.base, lease_seconds=5.0, max_crash_recoveries=1)
        s = s.model_copy(update={"queue": s.queue.model_copy(
            update={"done_retention_count": 4, "error_history": 2})})
        self.clock = ManualClock()
        self.q = Queue(self.client, s, clock=self.clock)
        self.leases: list[tuple[str, str]] = []  # every lease ever handed out, maybe stale
        self.ids: set[str] = set()

    # -- rules ---------------------------------------------------------------------------

    @rule(kind=st.sampled_from(KINDS), dedupe=st.sampled_from([None, "k1", "k2"]),
          retries=st.integers(0, 2), delay=st.sampled_from([0.0, 0.0, 3.0]))
    def enqueue(self, kind: str, dedupe: str | None, retries: int, delay: float) -> None:
        res = self.q.enqueue(kind, {"n": len(self.ids)}, dedupe_key=dedupe, max_retries=retries,
                             delay_seconds=delay)
        self.ids.add(res.id)

    @rule(count=st.integers(1, 3), kinds=st.sampled_from([(), ("a",), ("b", "c")]))
    def claim(self, count: int, kinds: tuple[str, ...]) -> None:
        for job in self.q.claim("w", count, kinds=kinds).jobs:
            self.leases.append((job.id, job.token))

    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        self._with_lease(data, lambda i, t: self.q.ack(i, t))

    @rule(data=st.data(), mode=st.sampled_from(["retry", "permanent", "crash"]))
    def fail(self, data: st.DataObject, mode: str) -> None:
        self._with_lease(data, lambda i, t: self.q.fail(
            i, t, exception_entry(RuntimeError("x"), "error"), mode=mode))

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        self._with_lease(data, lambda i, t: self.q.release(i, t))

    @rule(data=st.data())
    def heartbeat(self, data: st.DataObject) -> None:
        if self.leases:
            lease = data.draw(st.sampled_from(self.leases))
            lost = self.q.heartbeat("w", [lease])
            held = self._holds(lease)
            assert (lease[0] in lost) is not held

    @rule(seconds=st.sampled_from([1.0, 3.0, 6.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def reap(self) -> None:
        self.q.reap()

    @rule(data=st.data())
    def clean(self, data: st.DataObject) -> None:
        if self.leases:
            self.q.clean([data.draw(st.sampled_from(self.leases))])

    @rule(data=st.data())
    def dead_retry(self, data: st.DataObject) -> None:
        dead = self.client.zrange(self.q.keys.dead, 0, -1)
        if dead:
            self.q.dead_retry([data.draw(st.sampled_from(dead))])

    @rule(data=st.data())
    def dead_purge(self, data: st.DataObject) -> None:
        dead = self.client.zrange(self.q.keys.dead, 0, -1)
        if dead:
            self.q.dead_purge([data.draw(st.sampled_from(dead))])

    @rule(data=st.data(), op=st.sampled_from(["ack", "fail", "release", "heartbeat"]))
    def stale_token_changes_nothing(self, data: st.DataObject, op: str) -> None:
        stale = [lease for lease in self.leases if not self._holds(lease)]
        if not stale:
            return
        job_id, token = data.draw(st.sampled_from(stale))
        before = self._snapshot()
        if op == "heartbeat":
            assert self.q.heartbeat("w", [(job_id, token)]) == {job_id}
        else:
            call: dict[str, Any] = {
                "ack": lambda: self.q.ack(job_id, token),
                "fail": lambda: self.q.fail(job_id, token, error_entry("Error", "x", "x")),
                "release": lambda: self.q.release(job_id, token)}
            with pytest.raises((LeaseLost, JobNotFound)):
                call[op]()
        after = self._snapshot()
        assert before == after

    # -- helpers -------------------------------------------------------------------------

    def _holds(self, lease: tuple[str, str]) -> bool:
        h = self.client.hmget(self.q.keys.job(lease[0]), "state", "token")
        return h[0] == "processing" and h[1] == lease[1]

    def _with_lease(self, data: st.DataObject, op: Any) -> None:
        held = [lease for lease in self.leases if self._holds(lease)]
        if held:
            op(*data.draw(st.sampled_from(held)))

    def _snapshot(self) -> dict[str, Any]:
        k = self.q.keys
        jobs = {i: self.client.hgetall(k.job(i)) for i in self.ids}
        zsets = {key: self.client.zrange(key, 0, -1, withscores=True)
                 for key in (k.scheduled, k.processing, k.done, k.dead, k.claimed)}
        pending = {kind: self.client.lrange(k.pending(kind), 0, -1) for kind in KINDS}
        stats = {f: v for f, v in self.client.hgetall(k.stats).items()}
        return {"jobs": jobs, "zsets": zsets, "pending": pending, "stats": stats}

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def each_job_in_exactly_one_state_structure(self) -> None:
        k = self.q.keys
        where: dict[str, list[str]] = {}
        for kind in KINDS:
            for i in self.client.lrange(k.pending(kind), 0, -1):
                where.setdefault(i, []).append("pending")
        for state, key in (("scheduled", k.scheduled), ("processing", k.processing),
                           ("done", k.done), ("dead", k.dead)):
            for i in self.client.zrange(key, 0, -1):
                where.setdefault(i, []).append(state)
        for job_id in self.ids:
            record = self.client.hget(k.job(job_id), "state")
            places = where.get(job_id, [])
            if record is None:  # purged or trimmed: in no structure at all
                assert places == [], (job_id, places)
            else:
                assert places == [record], (job_id, places, record)
        claimed = set(self.client.zrange(k.claimed, 0, -1))
        assert claimed == set(self.client.zrange(k.processing, 0, -1))

    @invariant()
    def counters_balance(self) -> None:
        s = queries.stats(self.q)
        c = queries.counts(self.q)
        accounted = sum(c.values()) + int(s.get("purged", 0)) + int(s.get("trimmed", 0))
        assert int(s.get("enqueued", 0)) == accounted, (s, c)


def test_random_transitions_keep_every_invariant(client: Redis,
                                                 base_settings: IngestSettings) -> None:
    QueueMachine.client = client
    QueueMachine.base = base_settings
    run_state_machine_as_test(QueueMachine, settings=settings(
        max_examples=40, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.too_slow]))
