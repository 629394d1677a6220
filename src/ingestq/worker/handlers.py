"""Handlers by kind: the registry workers dispatch from, and the context a handler receives."""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Isolation = Literal["thread", "process"]


@dataclass
class JobContext:
    """What a handler gets: the job's identity and payload, and a stop signal to honour."""

    id: str
    kind: str
    payload: dict[str, Any]
    attempt: int
    stop_event: threading.Event = field(default_factory=threading.Event)

    def should_stop(self) -> bool:
        """True once the attempt is abandoned (timeout, lease lost, shutdown): return early."""
        return self.stop_event.is_set()


SyncHandler = Callable[[JobContext], Any]
AsyncHandler = Callable[[JobContext], Awaitable[Any]]


@dataclass(frozen=True)
class HandlerSpec:
    """A registered handler and how it must run."""

    kind: str
    func: Callable[[JobContext], Any]
    is_async: bool
    isolation: Isolation | None  # None: the worker's default


class Registry:
    """Handlers by kind."""

    def __init__(self) -> None:
        self._handlers: dict[str, HandlerSpec] = {}

    def register(self, kind: str, func: Callable[[JobContext], Any], *,
                 isolation: Isolation | None = None) -> None:
        """Register ``func`` for jobs of ``kind`` (sync or async)."""
        self._handlers[kind] = HandlerSpec(kind, func, asyncio.iscoroutinefunction(func),
                                           isolation)

    def handler(self, kind: str, *, isolation: Isolation | None = None
                ) -> Callable[[Callable[[JobContext], Any]], Callable[[JobContext], Any]]:
        """Decorator form of :meth:`register`."""
        def wrap(func: Callable[[JobContext], Any]) -> Callable[[JobContext], Any]:
            self.register(kind, func, isolation=isolation)
            return func
        return wrap

    def get(self, kind: str) -> HandlerSpec | None:
        """The handler for a kind, if any."""
        return self._handlers.get(kind)

    def kinds(self) -> list[str]:
        """Every registered kind."""
        return sorted(self._handlers)


default_registry = Registry()
handler = default_registry.handler


def load_modules(modules: list[str]) -> None:
    """Import the modules that register handlers (the built-ins and ``file`` always first)."""
    importlib.import_module("ingestq.worker.builtin")
    importlib.import_module("ingestq.ingest.file_kind")
    importlib.import_module("ingestq.tracing")  # attempt spans, when opentelemetry is installed
    for name in modules:
        importlib.import_module(name)
