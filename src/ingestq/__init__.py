"""ingestq: a crash-safe Redis/Valkey job queue for document-ingestion pipelines.

The public names below are imported on first use (module ``__getattr__``), so importing one
submodule, as every ``ingestctl`` command and worker child process does, does not pay for
pydantic, redis-py and the rest at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ingestq.config import LoadedConfig, Settings, load_config
    from ingestq.core.queue import Queue
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
    from ingestq.worker.handlers import JobContext, Registry, default_registry, handler

_WHERE = {
    "LoadedConfig": "config", "Settings": "config", "load_config": "config",
    "ConfigError": "errors", "ConnectionFailed": "errors", "IngestqError": "errors",
    "JobNotFound": "errors", "LeaseLost": "errors", "PayloadError": "errors",
    "PermanentError": "errors", "TransientError": "errors",
    "JobContext": "worker.handlers", "Registry": "worker.handlers",
    "default_registry": "worker.handlers",
    "handler": "worker.handlers",
    "Queue": "core.queue",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ingestq' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ingestq.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value
