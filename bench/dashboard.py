"""What the dashboard costs the service: first render and one live update, at a small queue and
at 100,000 pending jobs with 10,000 dead, on the embedded server.

A render is what the browser asks for when a view opens (the page, its script and style, then
the view's JSON); a live update is the one JSON read the page repeats every 2 s. Each is timed
through the real app in process (ASGI, no network) and its Redis round trips are counted at the
client (one per command sent alone, one per pipeline). The small queue (1,000 pending, 100
dead) is the baseline of the same run: the goal is under 200 ms, and the same number of round
trips at both sizes.

    python bench/dashboard.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from redis.connection import AbstractConnection
from results import command_line, git_rev, load, machine, write_section

from ingestq.config import load_config
from ingestq.core.connection import connect
from ingestq.core.embedded import EmbeddedServer
from ingestq.core.queue import JobSpec, Queue, error_entry
from ingestq.service.app import create_app

KINDS = ("file", "noop", "sleep", "webhook", "thumbnail")
PAGE_FILES = ("/ui", "/ui/app.js", "/ui/app.css")
VIEWS = {"overview": "/ui/api/overview",
         "dead letters": "/ui/api/jobs?state=dead&page=0&size=50",
         "dead letters, by kind (every one matches)":
             "/ui/api/jobs?state=dead&kind=broken&page=0&size=50"}


class RoundTrips:
    """Counts what redis-py sends: one packed send is one round trip (a pipeline is one)."""

    def __init__(self) -> None:
        self.n = 0
        original = AbstractConnection.send_packed_command

        def counted(conn: AbstractConnection, command: Any, check_health: bool = True) -> None:
            self.n += 1
            original(conn, command, check_health)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]


def fill(q: Queue, pending: int, dead: int) -> None:
    specs = [JobSpec(KINDS[i % len(KINDS)], {"path": f"/docs/page-{i}.md"})
             for i in range(pending)]
    q.enqueue_many(specs)
    q.enqueue_many([JobSpec("broken", {"path": f"/bad/{i}.md"}) for i in range(dead)])
    left = dead
    while left:
        batch = q.claim("bench", min(left, 500), kinds=["broken"]).jobs
        for c in batch:
            q.fail(c.id, c.token, error_entry(None, reason="permanent", message="bad input"),
                   mode="permanent")
        left -= len(batch)


@dataclass
class Figure:
    median_ms: float
    p90_ms: float
    round_trips: int


def measure(call: Callable[[], None], trips: RoundTrips, repeat: int) -> Figure:
    call()  # warm: script loading, first connection
    times, counts = [], set()
    for _ in range(repeat):
        before = trips.n
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
        counts.add(trips.n - before)
    assert len(counts) == 1, f"round trips varied between calls: {counts}"
    times.sort()
    return Figure(statistics.median(times), times[int(0.9 * (len(times) - 1))], counts.pop())


def run_size(data_dir: str, pending: int, dead: int, trips: RoundTrips, repeat: int
             ) -> dict[str, tuple[Figure, Figure]]:
    settings = load_config(environ={"INGESTQ_DATA_DIR": data_dir,
                                    "INGESTQ_QUEUE__NAME": "d" + uuid.uuid4().hex[:8]}).ingest
    q = Queue(connect(settings), settings)
    fill(q, pending, dead)
    out = {}
    with TestClient(create_app(q)) as api:
        def get(path: str) -> None:
            assert api.get(path).status_code == 200, path
        for name, path in VIEWS.items():
            def render(path: str = path) -> None:
                for f in PAGE_FILES:
                    get(f)
                get("/ui/api/session")
                get(path)
            out[name] = (measure(render, trips, repeat),
                         measure(lambda path=path: get(path), trips, repeat))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 pending, 1,000 dead")
    args = parser.parse_args()
    big = (10_000, 1_000) if args.quick else (100_000, 10_000)
    small = (1_000, 100)
    repeat = 20
    trips = RoundTrips()
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            base = run_size(data_dir, *small, trips, repeat)
            large = run_size(data_dir, *big, trips, repeat)
        finally:
            EmbeddedServer(data_dir).stop()
    report(base, large, small, big, repeat)


def report(base: dict[str, tuple[Figure, Figure]], large: dict[str, tuple[Figure, Figure]],
           small: tuple[int, int], big: tuple[int, int], repeat: int) -> None:
    lines = [
        "## Dashboard: first render and one live update", "",
        f"`{command_line()}` at {git_rev()}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        f"{machine()}; {load()}.", "",
        f"Server side, through the app in process (ASGI, no network), median and p90 of {repeat}"
        " calls; round trips counted at the Redis client. Render = page, script, style, session "
        "and the view's JSON; live update = the view's JSON alone (what the page repeats every "
        f"2 s). Baseline: {small[0]:,} pending and {small[1]:,} dead; measured: {big[0]:,} "
        f"pending and {big[1]:,} dead.", "",
        "| view | render ms (p90) | update ms (p90) | round trips render / update | "
        "baseline update ms | update vs baseline | round trips baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for name in VIEWS:
        (r, u), (_, bu) = large[name], base[name]
        lines.append(
            f"| {name} | {r.median_ms:.1f} ({r.p90_ms:.1f}) | {u.median_ms:.1f} ({u.p90_ms:.1f})"
            f" | {r.round_trips} / {u.round_trips} | {bu.median_ms:.1f} | "
            f"{u.median_ms / bu.median_ms:.2f}x | {bu.round_trips} |")
        verdicts.append((name, r.median_ms < 200, u.round_trips == bu.round_trips))
    lines += ["", "A filter that matches few dead jobs reads the dead set in batches until a "
              "page is full (up to 500 records a round trip), so its cost grows with the dead "
              "set; the unfiltered views above do not.", ""]
    for name, fast, fixed in verdicts:
        lines.append(f"- {name}: render under 200 ms **{'met' if fast else 'missed'}**; round "
                     f"trips the same at both sizes **{'met' if fixed else 'missed'}**.")
    text = "\n".join(lines)
    print(text)
    write_section("dashboard", text)


if __name__ == "__main__":
    main()
