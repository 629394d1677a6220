"""Every error ingestq raises, under one root.

    IngestqError
    ├── ConfigError            configuration file or environment is invalid
    ├── ConnectionFailed       Redis/Valkey cannot be reached (or the embedded server won't start)
    │   └── NotReplicated      a write was not confirmed by redis.min_replicas_acked replicas
    ├── PayloadError           a job payload is not a JSON object or is too large
    ├── JobNotFound            no job with that id
    ├── BadRecord              a stored job record cannot be decoded (written by hand or old code)
    ├── OutOfMemory            Redis refused a write: it is at maxmemory
    ├── LeaseLost              a fencing token is stale: the job belongs to another attempt
    ├── InvalidTransition      the job is not in a state that allows the operation
    └── JobError               raised by handlers to say how an attempt failed
        ├── PermanentError     never retry: the job goes to the dead-letter set at once
        └── TransientError     retry with backoff while the retry budget lasts

Permanent versus transient is a type, not a flag, so a handler states its intent by what it raises.
Any other exception escaping a handler counts as transient.
"""

from __future__ import annotations


class IngestqError(Exception):
    """Root of every ingestq error."""


class ConfigError(IngestqError):
    """The configuration file or environment is invalid; the message names key, file and choices."""


class ConnectionFailed(IngestqError):
    """Redis/Valkey cannot be reached, or the embedded server cannot be started."""


class NotReplicated(ConnectionFailed):
    """Fewer replicas than ``redis.min_replicas_acked`` confirmed a write in time.

    The write was made on the primary but a failover may lose it: retry (a dedupe key makes a
    retried enqueue safe).
    """


class PayloadError(IngestqError):
    """A job payload is malformed (not a JSON object) or larger than the configured limit."""


class JobNotFound(IngestqError):
    """No job with the given id exists (it may have been trimmed or purged)."""


class BadRecord(IngestqError):
    """A stored job record cannot be decoded; readers skip and name it instead of failing."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id}: stored record is unreadable ({reason})")
        self.job_id = job_id
        self.reason = reason


class OutOfMemory(IngestqError):
    """Redis/Valkey refused a write because it reached maxmemory; nothing was written."""


class LeaseLost(IngestqError):
    """The fencing token is stale: the lease expired and the job was reaped or handed to another."""


class InvalidTransition(IngestqError):
    """The job's current state does not allow the requested operation."""


class JobError(IngestqError):
    """Base for errors a handler raises to describe a failed attempt."""

    reason = "error"


class PermanentError(JobError):
    """The job can never succeed (bad input): it goes to the dead-letter set without retrying."""

    reason = "permanent"


class ResultError(PermanentError):
    """A handler returned a value that cannot be stored as JSON (the same value would fail on
    every retry, so the job goes to the dead-letter set instead of crashing the worker)."""


class TransientError(JobError):
    """The attempt failed for a reason that may pass: retry with backoff."""

    reason = "transient"
