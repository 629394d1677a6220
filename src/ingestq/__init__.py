"""ingestq: a crash-safe Redis/Valkey job queue for document-ingestion pipelines."""

from __future__ import annotations

__version__ = "0.1.0"

from ingestq.config import LoadedConfig, Settings, load_config
from ingestq.errors import (
    ConfigError,
    ConnectionFailed,
    IngestqError,
    JobNotFound,
    LeaseLost,
    PayloadError,
    PermanentError,
    TransientError,
)
from ingestq.handlers import JobContext, Registry, default_registry, handler
from ingestq.queue import Queue

__all__ = [
    "ConfigError",
    "ConnectionFailed",
    "IngestqError",
    "JobContext",
    "JobNotFound",
    "LeaseLost",
    "LoadedConfig",
    "PayloadError",
    "PermanentError",
    "Queue",
    "Registry",
    "Settings",
    "TransientError",
    "__version__",
    "default_registry",
    "handler",
    "load_config",
]
