"""Operator actions and views shared by ingestctl and the HTTP service.

Each public function takes a :class:`~ingestq.core.queue.Queue` (or settings), does one
operator-level job (a status report, a clean, a dead-letter retry, a doctor run) and returns a
plain dataclass with a ``to_dict()`` whose shape is documented in ``docs/cli.md``. Rendering is
left to callers.
"""
