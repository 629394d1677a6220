"""Small optional behaviours wrapped around each attempt (tracing, metrics), added by plug-ins.

A hook is a callable taking the job context and returning a context manager; the runner enters
every registered hook around the handler call, in thread mode and in child processes alike
(child processes import the same modules, so hooks registered at import time apply there too).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from ingestq.worker.handlers import JobContext

AttemptHook = Callable[[JobContext], AbstractContextManager[object]]

_attempt_hooks: list[AttemptHook] = []


def add_attempt_hook(hook: AttemptHook) -> None:
    """Wrap every future attempt in ``hook(context)``."""
    if hook not in _attempt_hooks:
        _attempt_hooks.append(hook)


def remove_attempt_hook(hook: AttemptHook) -> None:
    """Stop wrapping attempts in ``hook``."""
    if hook in _attempt_hooks:
        _attempt_hooks.remove(hook)


@contextlib.contextmanager
def around_attempt(context: JobContext) -> Iterator[None]:
    """Enter every registered hook around one attempt."""
    with contextlib.ExitStack() as stack:
        for hook in list(_attempt_hooks):
            stack.enter_context(hook(context))
        yield
