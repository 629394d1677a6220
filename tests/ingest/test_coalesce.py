"""Concurrent embedding calls share model calls; each caller still gets exactly its own rows."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from support.procs import wait_for

from ingestq.ingest.embedders.base import Vectors
from ingestq.ingest.embedders.coalesce import Coalescer


def rows_of(texts: list[str]) -> Vectors:
    """A row per text that identifies it: (length, first character's code)."""
    return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


class GatedModel:
    """Records every call; the first call waits until the test opens the gate."""

    def __init__(self, bad: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.bad = bad

    def __call__(self, texts: list[str]) -> Vectors:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            assert self.gate.wait(10)
        if self.bad is not None and self.bad in texts:
            raise ValueError(f"cannot embed {self.bad!r}")
        return rows_of(texts)


def run_in_threads(co: Coalescer, model: GatedModel, requests: list[list[str]]) -> list[object]:
    """First request runs (gated); the rest queue behind it; then the gate opens."""
    out: list[object] = [None] * len(requests)

    def call(i: int) -> None:
        try:
            out[i] = co.run(requests[i])
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    threads[0].start()
    wait_for(lambda: len(model.calls) == 1, 10, "the first call to start")
    for t in threads[1:]:
        t.start()
    wait_for(lambda: co.queued == len(requests) - 1, 10, "the other calls to queue")
    model.gate.set()
    for t in threads:
        t.join(10)
    return out


def test_a_lone_caller_runs_at_once_in_one_call() -> None:
    model = GatedModel()
    model.gate.set()
    co = Coalescer(model)
    rows = co.run(["alpha", "be"])
    assert model.calls == [["alpha", "be"]]
    np.testing.assert_array_equal(rows, rows_of(["alpha", "be"]))


def test_callers_that_arrive_during_a_call_share_the_next_one() -> None:
    model = GatedModel()
    co = Coalescer(model)
    requests = [["first"], ["a", "bb"], ["ccc"], ["dddd", "e", "ff"], ["g"]]
    out = run_in_threads(co, model, requests)
    assert len(model.calls) == 2  # the gated call, then every queued request in one
    assert sorted(model.calls[1]) == sorted(t for r in requests[1:] for t in r)
    for request, rows in zip(requests, out, strict=True):
        assert isinstance(rows, np.ndarray)
        np.testing.assert_array_equal(rows, rows_of(request))


def test_max_texts_splits_the_queue_into_several_calls() -> None:
    model = GatedModel()
    co = Coalescer(model, max_texts=3)
    requests = [["first"], ["a", "b"], ["c"], ["d", "e"], ["f", "g", "h", "i"]]
    out = run_in_threads(co, model, requests)
    # at most 3 texts a call, except the oversized request, which runs whole and alone
    assert all(len(call) <= 3 or call == requests[4] for call in model.calls[1:])
    assert len(model.calls) >= 4
    for request, rows in zip(requests, out, strict=True):
        np.testing.assert_array_equal(rows, rows_of(request))  # type: ignore[arg-type]


def test_a_text_that_fails_fails_only_its_own_request() -> None:
    model = GatedModel(bad="poison")
    co = Coalescer(model)
    requests = [["first"], ["ok", "fine"], ["x", "poison"], ["also ok"]]
    out = run_in_threads(co, model, requests)
    assert isinstance(out[2], ValueError) and "poison" in str(out[2])
    for i in (0, 1, 3):
        np.testing.assert_array_equal(out[i], rows_of(requests[i]))  # type: ignore[arg-type]


def test_a_model_that_returns_the_wrong_number_of_rows_is_an_error() -> None:
    co = Coalescer(lambda texts: rows_of(texts[:-1]))
    with pytest.raises(RuntimeError, match="1 rows for 2 texts"):
        co.run(["a", "b"])


def test_parallel_calls_run_at_once_and_a_taken_request_is_not_served_twice() -> None:
    # Two calls may run at once: the first is held, the second runs beside it; a third caller
    # arriving while both run waits, then goes into the next call with whatever queued.
    started = threading.Semaphore(0)
    release = threading.Event()
    calls: list[list[str]] = []

    def model(texts: list[str]) -> Vectors:
        calls.append(list(texts))
        started.release()
        assert release.wait(10)
        return rows_of(texts)

    co = Coalescer(model, parallel=2)
    out: dict[str, object] = {}

    def call(text: str) -> None:
        out[text] = co.run([text])

    first = threading.Thread(target=call, args=("one",))
    second = threading.Thread(target=call, args=("two",))
    first.start()
    second.start()
    assert started.acquire(timeout=10) and started.acquire(timeout=10)  # both running
    third = threading.Thread(target=call, args=("three",))
    third.start()
    wait_for(lambda: co.queued == 1, 10, "the third caller to queue")
    release.set()
    for t in (first, second, third):
        t.join(10)
    assert sorted(map(tuple, calls)) == [("one",), ("three",), ("two",)]
    for text in ("one", "two", "three"):
        np.testing.assert_array_equal(out[text], rows_of([text]))
