"""Group commit for embedding calls: concurrent callers share one model call.

A worker runs several handler threads, each embedding one document's chunks. Each call alone
is small (13 texts on average in the corpus), so a local model pads and dispatches many short
batches, and concurrent calls fight over the same cores. Here the first caller runs the model;
callers that arrive meanwhile queue up, and when it finishes, the next one takes every queued
request in one call. No caller waits for a timer: a lone caller runs at once, so there is
batching only when there is concurrency to batch. With ``parallel`` above one, that many calls
may run at once (a local model on several cores runs one single-threaded forward pass per core:
no OpenMP barrier waits for a core that a parsing thread holds).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ingestq.ingest.embedders.base import Vectors


@dataclass
class _Request:
    texts: Sequence[str]
    rows: Vectors | None = None
    error: BaseException | None = None
    done: bool = False


class Coalescer:
    """Runs ``embed`` for concurrent callers, one call at a time, merging queued requests."""

    def __init__(self, embed: Callable[[list[str]], Vectors], max_texts: int = 512,
                 parallel: int = 1) -> None:
        """``max_texts`` bounds one merged call (a request larger than it still runs whole);
        ``parallel`` calls run at once at most."""
        self._embed = embed
        self._max_texts = max_texts
        self._parallel = parallel
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._running = 0

    @property
    def queued(self) -> int:
        """Requests waiting for the model (not counting the call running now)."""
        with self._cond:
            return len(self._queue)

    def run(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``, possibly in one call with other threads' texts; rows in order."""
        mine = _Request(texts)
        with self._cond:
            self._queue.append(mine)
        # Serve the queue, oldest first, until this request is done: the batch taken may not
        # hold it when older requests fill max_texts. A request another call has taken is
        # waited for (the queue is then empty of it), not served twice.
        while True:
            with self._cond:
                while not mine.done and (self._running >= self._parallel or not self._queue):
                    self._cond.wait()
                if mine.done:
                    return self._result(mine)
                self._running += 1
                batch = self._take()
            try:
                self._serve(batch)
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

    def _take(self) -> list[_Request]:
        """Queued requests, oldest first, up to ``max_texts`` (at least one). Lock held."""
        taken: list[_Request] = []
        total = 0
        while self._queue and (not taken or total + len(self._queue[0].texts) <= self._max_texts):
            request = self._queue.pop(0)
            taken.append(request)
            total += len(request.texts)
        return taken

    def _serve(self, batch: list[_Request]) -> None:
        """One model call for the batch; if it fails, each request alone, so one bad text
        fails only its own document."""
        try:
            rows = self._call([t for r in batch for t in r.texts])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for request in batch:
                    try:
                        request.rows = self._call(list(request.texts))
                    except Exception as own:
                        request.error = own
        else:
            start = 0
            for request in batch:
                request.rows = rows[start : start + len(request.texts)]
                start += len(request.texts)
        finally:
            with self._cond:
                for request in batch:
                    if request.rows is None and request.error is None:
                        request.error = RuntimeError("embedding call was interrupted")
                    request.done = True

    def _call(self, texts: list[str]) -> Vectors:
        rows = self._embed(texts)
        if len(rows) != len(texts):
            raise RuntimeError(f"embedder returned {len(rows)} rows for {len(texts)} texts")
        return rows

    @staticmethod
    def _result(request: _Request) -> Vectors:
        if request.error is not None:
            raise request.error
        assert request.rows is not None
        return np.asarray(request.rows, dtype=np.float32)
