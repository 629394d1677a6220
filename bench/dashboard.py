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
    cpu_ms: float  # median CPU time of this process (client and app) per call
    round_trips: int


class Timings:
    """Wall and CPU times and round trips of repeated calls of one thing."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.trips: set[int] = set()

    def run(self, call: Callable[[], None], trips: RoundTrips) -> None:
        before, wall, cpu = trips.n, time.perf_counter(), time.process_time()
        call()
        self.cpu.append((time.process_time() - cpu) * 1000)
        self.wall.append((time.perf_counter() - wall) * 1000)
        self.trips.add(trips.n - before)

    def figure(self) -> Figure:
        assert len(self.trips) == 1, f"round trips varied between calls: {self.trips}"
        wall = sorted(self.wall)
        return Figure(statistics.median(wall), wall[int(0.9 * (len(wall) - 1))],
                      statistics.median(self.cpu), next(iter(self.trips)))


def new_queue(data_dir: str, pending: int, dead: int) -> Queue:
    settings = load_config(environ={"INGESTQ_DATA_DIR": data_dir,
                                    "INGESTQ_QUEUE__NAME": "d" + uuid.uuid4().hex[:8]}).ingest
    q = Queue(connect(settings), settings)
    fill(q, pending, dead)
    return q


def calls(api: TestClient, path: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """A view's first render (page files, session, its JSON) and its live update (the JSON)."""
    def get(p: str) -> None:
        assert api.get(p).status_code == 200, p

    def render() -> None:
        for f in (*PAGE_FILES, "/ui/api/session", path):
            get(f)

    return render, lambda: get(path)


def measure(base_q: Queue, large_q: Queue, trips: RoundTrips, repeat: int
            ) -> dict[str, dict[str, Figure]]:
    """Baseline and large queue called in turn, so load from elsewhere hits both alike."""
    out: dict[str, dict[str, Figure]] = {}
    with TestClient(create_app(base_q)) as base_api, TestClient(create_app(large_q)) as big_api:
        for name, path in VIEWS.items():
            pairs = {"base": calls(base_api, path), "large": calls(big_api, path)}
            timings = {(size, what): Timings() for size in pairs
                       for what in ("render", "update")}
            for render, update in pairs.values():  # warm: scripts, connections
                render()
                update()
            for _ in range(repeat):
                for size, (render, update) in pairs.items():
                    timings[(size, "render")].run(render, trips)
                    timings[(size, "update")].run(update, trips)
            out[name] = {f"{size} {what}": t.figure() for (size, what), t in timings.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 pending, 1,000 dead")
    args = parser.parse_args()
    big = (10_000, 1_000) if args.quick else (100_000, 10_000)
    small = (1_000, 100)
    repeat = 50
    trips = RoundTrips()
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            figures = measure(new_queue(data_dir, *small), new_queue(data_dir, *big), trips,
                              repeat)
        finally:
            EmbeddedServer(data_dir).stop()
    report(figures, small, big, repeat)


def report(figures: dict[str, dict[str, Figure]], small: tuple[int, int],
           big: tuple[int, int], repeat: int) -> None:
    lines = [
        "## Dashboard: first render and one live update", "",
        f"`{command_line()}` at {git_rev()}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
        f"{machine()}; {load()}.", "",
        f"Server side, through the app in process (ASGI, no network): median and p90 wall time "
        f"of {repeat} calls, median CPU time of this process (client and app; the Valkey "
        "server is another process), and Redis round trips counted at the client. Render = "
        "page, script, style, session and the view's JSON; live update = the view's JSON alone "
        f"(what the page repeats every 2 s). Measured: {big[0]:,} pending and {big[1]:,} dead; "
        f"baseline: {small[0]:,} pending and {small[1]:,} dead, called in turn with it.", "",
        "| view | render ms, p90 | update ms, p90 | update CPU ms | round trips render / "
        "update | baseline update ms | baseline CPU ms | round trips baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for name, f in figures.items():
        r, u, bu = f["large render"], f["large update"], f["base update"]
        lines.append(
            f"| {name} | {r.median_ms:.1f}, {r.p90_ms:.1f} | {u.median_ms:.1f}, {u.p90_ms:.1f} "
            f"| {u.cpu_ms:.1f} | {r.round_trips} / {u.round_trips} | {bu.median_ms:.1f} | "
            f"{bu.cpu_ms:.1f} | {bu.round_trips} |")
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
