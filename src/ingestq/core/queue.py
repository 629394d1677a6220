"""The queue: one typed method per Lua transition, and the reads operators need.

Every state change is one script call, so no transition can lose or copy a job. Return codes
from the scripts map to exceptions through one table (:data:`REFUSALS`).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis import Redis
from redis.exceptions import OutOfMemoryError, ResponseError

from ingestq.core.job import Claimed, ErrorEntry, JobState
from ingestq.core.keys import QueueKeys
from ingestq.core.replication import Replicated
from ingestq.core.scripts import register_all
from ingestq.core.settings import MAX_SECONDS, CoreSettings
from ingestq.errors import (
    IngestqError,
    InvalidTransition,
    JobNotFound,
    LeaseLost,
    OutOfMemory,
    PayloadError,
    ResultError,
)

REFUSALS: dict[int, type[IngestqError]] = {
    -1: JobNotFound,
    -2: LeaseLost,
    -3: InvalidTransition,
}
KIND_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
RESULT_MAX_BYTES = 16_384  # results are summaries (counts, ids), not data
ENQUEUE_CHUNK = 500  # jobs per script call: amortises round trips, never blocks the server long
# What one job may ask for. Beyond these a value is a mistake, and stored it would break every
# reader of the record (a delay of 1e14 s was stored as due_at "1e+303").
MAX_DELAY_SECONDS = MAX_SECONDS
MAX_RETRIES = 1_000_000
DEDUPE_KEY_MAX_CHARS = 1024


class Clock(Protocol):
    """Where scripts take the time from. ``None`` means the server's own clock (TIME)."""

    def now_ms(self) -> int | None:
        """Milliseconds to pass to the scripts, or None for server time."""


class ServerClock:
    """The production clock: every script reads the server's TIME."""

    def now_ms(self) -> int | None:
        """Always the server's time."""
        return None


class ManualClock:
    """A clock tests move by hand, to test expiry without sleeping."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self.ms = start_ms

    def now_ms(self) -> int | None:
        """The current hand-set time."""
        return self.ms

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.ms += int(seconds * 1000)


@dataclass(frozen=True)
class JobSpec:
    """What to enqueue."""

    kind: str
    payload: dict[str, Any]
    dedupe_key: str | None = None
    max_retries: int | None = None
    delay_seconds: float = 0.0


@dataclass(frozen=True)
class Enqueued:
    """Result of enqueueing one job: ``created`` is False when a dedupe key matched a live job."""

    id: str
    created: bool


@dataclass(frozen=True)
class ClaimBatch:
    """Jobs claimed in one call, and when the next scheduled job is due (None: none scheduled)."""

    jobs: list[Claimed]
    next_due_ms: int | None


@dataclass(frozen=True)
class FailOutcome:
    """Where a failed attempt went: scheduled (with delay), dead (with reason) or pending."""

    state: JobState
    delay_seconds: float = 0.0
    dead_reason: str | None = None


class EncodedResult(str):
    """A result already encoded by :func:`encode_result`: stored as it is, not encoded again.

    The worker encodes a result where the handler returned it, so that a value JSON cannot
    hold fails that attempt (ResultError) instead of the batched ack of every attempt with it.
    """


def encode_result(result: Any) -> EncodedResult:
    """A handler's return value as stored in the job record ('' for None).

    Values JSON cannot hold are written as strings (``default=str``); what still cannot be
    encoded (a key that is not a string, a cycle, nesting too deep) raises ResultError.
    """
    if isinstance(result, EncodedResult):
        return result
    if result is None:
        return EncodedResult("")
    try:
        text = json.dumps(result, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ResultError(f"the handler's result cannot be stored as JSON: {exc}") from None
    if len(text) > RESULT_MAX_BYTES:
        text = json.dumps({"truncated": True, "bytes": len(text)})
    return EncodedResult(text)


def is_out_of_memory(exc: ResponseError) -> bool:
    """Whether Redis refused a write because it reached maxmemory (not a lost connection)."""
    # redis-py maps the OOM error code to its own class, and drops the code from the message
    return isinstance(exc, OutOfMemoryError) or "used memory > 'maxmemory'" in str(exc)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_code(code: int, job_id: str) -> None:
    """Raise the exception a negative script code stands for."""
    if code < 0:
        exc = REFUSALS.get(code, IngestqError)
        detail = {
            -1: f"job {job_id} does not exist",
            -2: f"lease on job {job_id} is lost: its token is stale (the job was reaped, "
                "released or handed to another worker)",
            -3: f"job {job_id} is not in a state that allows this",
        }.get(code, f"job {job_id}: script returned {code}")
        raise exc(detail)


def _decode_claimed(flat: list[Any]) -> list[Claimed]:
    """Claimed jobs from claim.lua's groups of 8: id, token, kind, payload, attempt, failures,
    crash_recoveries, enqueued_at (ms).

    This runs for every job a worker takes, so it fills each frozen record's ``__dict__`` in one
    update instead of the dataclass ``__init__`` (one ``object.__setattr__`` per field: half the
    decoding time), and "{}", the commonest payload, skips the JSON parser. The records are the
    same (equality, hashing, immutability); ``Claimed`` has no ``__post_init__`` to skip.
    """
    new, loads = object.__new__, json.loads
    out: list[Claimed] = []
    g = iter(flat)
    for i, t, kind, p, a, f, c, e in zip(g, g, g, g, g, g, g, g, strict=True):
        job = new(Claimed)
        job.__dict__.update(id=str(i), token=str(t), kind=kind,
                            payload={} if p == "{}" else loads(p), attempt=int(a),
                            failures=int(f), crash_recoveries=int(c), enqueued_at=int(e) / 1000.0)
        out.append(job)
    return out


class Queue:
    """A named queue on one Redis/Valkey server."""

    def __init__(self, client: Redis, settings: CoreSettings,
                 clock: Clock | None = None) -> None:
        self.client = client
        self.settings = settings
        self.keys = QueueKeys(settings.queue.name)
        self.clock: Clock = clock or ServerClock()
        self._scripts = register_all(client)
        self._rng = random.Random()
        r = settings.redis
        self.replicated = Replicated(client, r.min_replicas_acked, r.replica_ack_timeout_seconds
                                     ) if r.min_replicas_acked else None

    # -- helpers -------------------------------------------------------------------------

    def _now(self) -> str:
        ms = self.clock.now_ms()
        return "" if ms is None else str(ms)

    def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        if self.replicated is not None:  # redis.min_replicas_acked: wait for replicas
            return self.replicated.run(name, self._scripts[name], keys, args)
        return self._scripts[name](keys=list(keys), args=list(args), client=self.client)

    def call_script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run one transition script by name (for modules that add transitions: ``controls``)."""
        return self._run(name, keys, args)

    def now_arg(self) -> str:
        """The clock argument every script takes ('' = the server's TIME)."""
        return self._now()

    def _jitter(self) -> float:
        return 1.0 - self.settings.retry_backoff.jitter * self._rng.random()

    def _backoff_args(self) -> list[Any]:
        b = self.settings.retry_backoff
        return [int(b.base_seconds * 1000), int(b.cap_seconds * 1000), self._jitter()]

    def encode_payload(self, payload: Any) -> str:
        """Validate and serialise a payload: a JSON object within the size limit."""
        if isinstance(payload, str | bytes):
            try:
                payload = json.loads(payload)
            except ValueError as exc:
                raise PayloadError(f"payload is not valid JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise PayloadError(
                f"payload must be a JSON object, got {type(payload).__name__}")
        try:
            text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
            if "\\u" in text:  # a lone surrogate is legal JSON text that no reader can show
                json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            raise PayloadError(f"payload cannot be encoded as JSON (a lone UTF-16 surrogate, "
                               f"NaN or a non-JSON value): {exc}") from None
        limit = self.settings.queue.max_payload_bytes
        size = len(text)  # ASCII: every non-ASCII character is a \u escape
        if size > limit:
            raise PayloadError(
                f"payload is {size} bytes, over the limit of {limit} bytes "
                "(ingest.queue.max_payload_bytes)")
        return text

    def _row(self, s: JobSpec, payload: str) -> list[Any]:
        """One job's script arguments, every field checked so the stored record reads back."""
        if not KIND_RE.match(s.kind):
            raise PayloadError(
                f"job kind {s.kind!r} is invalid: use 1-100 of A-Z a-z 0-9 _ . : -")
        delay = s.delay_seconds
        if not (isinstance(delay, int | float) and math.isfinite(delay)
                and 0 <= delay <= MAX_DELAY_SECONDS):
            raise PayloadError(f"delay_seconds must be a finite number from 0 to "
                               f"{MAX_DELAY_SECONDS:g} (a year), got {delay!r}")
        retries = self.settings.queue_recovery.max_retries if s.max_retries is None \
            else s.max_retries
        if not 0 <= retries <= MAX_RETRIES:
            raise PayloadError(f"max_retries must be from 0 to {MAX_RETRIES}, got {retries}")
        key = s.dedupe_key or ""
        if len(key) > DEDUPE_KEY_MAX_CHARS or not _utf8(key):
            raise PayloadError(f"dedupe_key must be valid text of at most "
                               f"{DEDUPE_KEY_MAX_CHARS} characters")
        return [s.kind, payload, key, retries, int(delay * 1000)]

    # -- producer ------------------------------------------------------------------------

    def enqueue(self, kind: str, payload: Any = None, *, dedupe_key: str | None = None,
                max_retries: int | None = None, delay_seconds: float = 0.0) -> Enqueued:
        """Add one job; with a dedupe key, a live job holding it is returned instead."""
        spec = JobSpec(kind, {} if payload is None else payload, dedupe_key, max_retries,
                       delay_seconds)
        return self.enqueue_many([spec])[0]

    def enqueue_many(self, specs: Iterable[JobSpec], *, atomic: bool = False
                     ) -> list[Enqueued]:
        """Add many jobs, a few hundred per script call. Every job is checked first.

        ``atomic``: one script call for all of them, so they are all enqueued or none is (a
        full Redis refuses the call before its first write); the caller bounds the size.
        Raises OutOfMemory when Redis is at maxmemory.
        """
        rows: list[list[Any]] = []
        last: tuple[object, str] | None = None  # copies of one payload are encoded once
        for s in specs:
            if last is None or last[0] is not s.payload:
                last = (s.payload, self.encode_payload(s.payload))
            rows.append(self._row(s, last[1]))
        out: list[Enqueued] = []
        step = max(len(rows), 1) if atomic else ENQUEUE_CHUNK
        for start in range(0, len(rows), step):
            try:
                out.extend(self._enqueue_call(rows[start:start + step]))
            except ResponseError as exc:
                if not is_out_of_memory(exc):
                    raise
                raise OutOfMemory(f"Redis is out of memory (maxmemory reached): {len(out)} of "
                                  f"{len(rows)} job(s) enqueued; free memory or raise "
                                  "maxmemory, then enqueue the rest") from None
        return out

    def _enqueue_call(self, rows: list[list[Any]]) -> list[Enqueued]:
        k = self.keys
        args: list[Any] = [k.prefix, self._now(), self.settings.queue.events_max, len(rows)]
        for row in rows:
            args.extend(row)
        res = self._run("enqueue", [k.seq, k.kinds, k.dedupe, k.stats, k.events, k.wake,
                                    k.scheduled], args)
        return [Enqueued(str(res[i]), bool(res[i + 1])) for i in range(0, len(res), 2)]

    # -- lease holder --------------------------------------------------------------------

    def claim(self, worker_id: str, count: int = 1, *, kinds: Sequence[str] = (),
              lease_seconds: float | None = None) -> ClaimBatch:
        """Claim up to ``count`` jobs (oldest first), each with a fresh fencing token."""
        k = self.keys
        lease = lease_seconds or self.settings.queue_recovery.lease_seconds
        res = self._run("claim", [k.kinds, k.scheduled, k.processing, k.stats, k.events,
                                  k.claimed, k.fence, k.paused],
                        [k.prefix, self._now(), self.settings.queue.events_max, count,
                         int(lease * 1000), worker_id, ",".join(kinds)])
        n, nxt = int(res[0]), int(res[1])
        return ClaimBatch(_decode_claimed(res[2:2 + 8 * n]), None if nxt < 0 else nxt)

    def heartbeat(self, worker_id: str, leases: Sequence[tuple[str, str]],
                  lease_seconds: float | None = None) -> set[str]:
        """Extend these leases; return the ids whose lease is lost (stop those attempts)."""
        k = self.keys
        rc = self.settings.queue_recovery
        lease = lease_seconds or rc.lease_seconds
        ttl = int(max(lease * 3, rc.heartbeat_seconds * 3) * 1000)
        args: list[Any] = [k.prefix, self._now(), int(lease * 1000), worker_id, ttl]
        for job_id, token in leases:
            args.extend((job_id, token))
        return set(self._run("heartbeat", [k.processing, k.workers], args))

    def ack_many(self, leases: Sequence[tuple[str, str]],
                 results: Sequence[Any] | None = None) -> list[int]:
        """Complete attempts, keeping each handler's result; one code per lease.

        Codes: 1 completed, -1 no such job, -2 lease lost. A result is stored as JSON (values
        JSON cannot hold are written as strings; over RESULT_MAX_BYTES it is replaced by a note).
        """
        if not leases:
            return []
        k = self.keys
        q = self.settings.queue
        args: list[Any] = [k.prefix, self._now(), q.events_max,
                           int(q.done_retention_seconds * 1000), q.done_retention_count]
        for i, (job_id, token) in enumerate(leases):
            args.extend((job_id, token, encode_result(results[i] if results else None)))
        return [int(c) for c in self._run("ack", [k.processing, k.done, k.dedupe, k.stats,
                                                  k.events, k.claimed], args)]

    def ack(self, job_id: str, token: str, result: Any = None) -> None:
        """Complete one attempt; raises LeaseLost when the token is stale."""
        check_code(self.ack_many([(job_id, token)], [result])[0], job_id)

    def fail(self, job_id: str, token: str, entry: ErrorEntry, *,
             mode: str = "retry") -> FailOutcome:
        """End a failed attempt: mode retry, permanent or crash (see fail.lua)."""
        k = self.keys
        s = self.settings
        res = self._run("fail", [k.processing, k.scheduled, k.dead, k.dedupe, k.stats,
                                 k.events, k.kinds, k.wake, k.claimed],
                        [k.prefix, self._now(), s.queue.events_max, job_id, token, mode,
                         json.dumps(entry), *self._backoff_args(),
                         s.queue_recovery.max_crash_recoveries, s.queue.error_history])
        code = int(res[0])
        check_code(code, job_id)
        if code == 1:
            return FailOutcome(JobState.SCHEDULED, delay_seconds=int(res[1]) / 1000.0)
        if code == 2:
            return FailOutcome(JobState.DEAD, dead_reason=str(res[1]))
        return FailOutcome(JobState.PENDING)

    def release_many(self, leases: Sequence[tuple[str, str]]) -> list[int]:
        """Hand attempts back to the front of pending, no attempt charged."""
        if not leases:
            return []
        k = self.keys
        args: list[Any] = [k.prefix, self._now(), self.settings.queue.events_max]
        for job_id, token in leases:
            args.extend((job_id, token))
        return [int(c) for c in self._run("release", [k.processing, k.stats, k.events,
                                                      k.kinds, k.wake, k.claimed], args)]

    def release(self, job_id: str, token: str) -> None:
        """Hand one attempt back; raises LeaseLost when the token is stale."""
        check_code(self.release_many([(job_id, token)])[0], job_id)

    # -- recovery ------------------------------------------------------------------------

    def _reap_call(self, mode: str, limit: int, pairs: Sequence[tuple[str, str]]
                   ) -> list[tuple[str, str]]:
        k = self.keys
        s = self.settings
        args: list[Any] = [k.prefix, self._now(), s.queue.events_max, mode, limit,
                           s.queue_recovery.stale_job_action,
                           s.queue_recovery.max_crash_recoveries, *self._backoff_args(),
                           s.queue.error_history]
        for job_id, token in pairs:
            args.extend((job_id, token))
        res = self._run("reap", [k.processing, k.scheduled, k.dead, k.dedupe, k.stats,
                                 k.events, k.kinds, k.wake, k.reaper, k.claimed], args)
        return [(str(res[i]), str(res[i + 1])) for i in range(0, len(res), 2)]

    def reap(self, limit: int = 1000) -> list[tuple[str, str]]:
        """One reap pass over expired leases; returns (id, action) for each job handled."""
        return self._reap_call("expired", limit, ())

    def clean(self, leases: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Take back exactly these attempts (if their token still matches), for `clean`."""
        return self._reap_call("clean", 0, leases) if leases else []

    # -- dead letters --------------------------------------------------------------------

    def _ids_call(self, name: str, keys: list[str], ids: Sequence[str]) -> list[int]:
        out: list[int] = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            res = self._run(name, keys, [self.keys.prefix, self._now(),
                                         self.settings.queue.events_max, *chunk])
            out.extend(int(c) for c in res)
        return out

    def dead_retry(self, ids: Sequence[str]) -> list[int]:
        """Move dead jobs back to pending with their budgets reset; one code per id."""
        k = self.keys
        return self._ids_call("dead_retry", [k.dead, k.dedupe, k.stats, k.events, k.kinds,
                                             k.wake], ids)

    def dead_purge(self, ids: Sequence[str]) -> list[int]:
        """Delete dead jobs for good; one code per id."""
        k = self.keys
        return self._ids_call("dead_purge", [k.dead, k.stats, k.events], ids)
