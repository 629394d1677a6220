"""The core's settings: what the queue, its scripts and the connection read, and nothing more.

The application's settings (:class:`ingestq.config.IngestSettings`) extend these with the
worker, the service and the pipeline, so every ``ingest.*`` key keeps its name.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def parse_flag(text: str) -> bool:
    """A yes/no setting written as text (an environment variable, a URL option), any case.

    ValueError otherwise; it never repeats the text, which may be a secret put in the wrong place.
    """
    word = text.lower()
    if word not in _TRUE | _FALSE:
        raise ValueError("expected true/false, yes/no, on/off or 1/0")
    return word in _TRUE

# Longest duration any setting may hold: a year. Longer is a typo (or .inf), and would overflow
# the millisecond arithmetic of the scripts or never fire at all.
MAX_SECONDS = 366 * 86_400.0


def seconds(default: float, *, positive: bool = True) -> Any:
    """A duration field: finite (no .inf, no NaN), at most :data:`MAX_SECONDS`."""
    if positive:
        return Field(default, gt=0, le=MAX_SECONDS, allow_inf_nan=False)
    return Field(default, ge=0, le=MAX_SECONDS, allow_inf_nan=False)


class Block(BaseModel):
    """A settings block: unknown keys and wrong types are errors."""

    # strict: a string where a number belongs is an error, not a coercion; unknown keys are errors.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class QueueRecovery(Block):
    """The established recovery block, plus the lease keys that replace age-based reaping."""

    enabled: bool = True  # kill switch for the reaper (workers' and standalone)
    job_timeout_seconds: float = seconds(600.0)  # hard cap on one attempt's run time
    # 2 s, not the old 30 s: a pass now costs O(expired leases), so it can run often, and a dead
    # worker's job is back within lease + interval.
    reaper_interval_seconds: float = seconds(2.0)
    max_retries: int = Field(3, ge=0)  # handler failures retried before the job is dead
    stale_job_action: Literal["requeue", "fail", "dlq"] = "requeue"
    # 10 s: long enough to ride out a GC pause or a slow Redis, short enough that a killed
    # worker's job returns within seconds. Healthy jobs of any length keep renewing it.
    lease_seconds: float = seconds(10.0)
    heartbeat_seconds: float = seconds(3.0)  # about lease/3: two beats may be missed safely
    # A job whose lease expires more than this many times kills its workers: dead, reason poison.
    max_crash_recoveries: int = Field(3, ge=0)


class RetryBackoff(Block):
    """Delay before a failed attempt is retried: min(cap, base * 2^(failures-1)), minus jitter."""

    base_seconds: float = seconds(1.0, positive=False)  # first retry after about a second
    cap_seconds: float = seconds(300.0, positive=False)  # never wait longer than five minutes
    # fraction of the delay randomised, to spread herds
    jitter: float = Field(0.5, ge=0, le=1, allow_inf_nan=False)


class QueueSettings(Block):
    """Queue identity and record keeping."""

    name: str = Field("ingest", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    max_payload_bytes: int = Field(1_048_576, ge=64)  # 1 MiB: payloads name files, not hold them
    # finished jobs kept a day for look-ups
    done_retention_seconds: float = seconds(86_400.0, positive=False)
    done_retention_count: int = Field(10_000, ge=0)  # and never more than this many
    error_history: int = Field(10, ge=1)  # errors kept per job record
    events_max: int = Field(10_000, ge=100)  # lifecycle events kept for `tail`


class RedisSettings(Block):
    """Where the queue lives. No URL: an embedded Valkey server in the data directory."""

    # redis://, rediss://, unix://, redis+sentinel://, redis+cluster:// (see core/redis_url.py);
    # None starts the embedded server
    url: str | None = None
    # Replicas that must hold each transition before it counts as done (WAIT / WAITAOF); an
    # enqueue they do not confirm raises NotReplicated. 0 (off): a single server has no replicas,
    # and the wait costs a replication round trip per transition.
    min_replicas_acked: int = Field(0, ge=0)
    # How long a transition waits for those replicas: longer than a healthy replica's lag,
    # short enough that a caller retries soon when a replica is gone.
    replica_ack_timeout_seconds: float = seconds(1.0)


class CoreSettings(Block):
    """What the core uses: where the data lives, the queue's identity and its recovery rules."""

    data_dir: str = ".ingestq"  # embedded server, its log, and the embedded stores
    queue_recovery: QueueRecovery = QueueRecovery()
    retry_backoff: RetryBackoff = RetryBackoff()
    queue: QueueSettings = QueueSettings()
    redis: RedisSettings = RedisSettings()
