"""The Python side and the Lua side agree: every script is called with the KEYS and ARGV its
header documents, the error entry is the one fail.lua takes, and the duration buckets the
scripts count are the ones /metrics reads."""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ingestq.core.job import ErrorEntry, error_entry
from ingestq.core.queue import JobSpec, ManualClock, Queue
from ingestq.core.scripts import SCRIPT_NAMES
from ingestq.service.metrics import DURATION_BUCKETS

TAILS = {"then pairs": 2, "then triples": 3, "then job ids": 1, "then N groups of 5": 5,
         "then (clean mode) pairs": 2}


@dataclass(frozen=True)
class Contract:
    """What a script's header promises: its KEYS by name, its fixed ARGV, a repeated tail."""

    keys: list[str]
    argv: list[str]
    tail: int  # size of each repeated group after the fixed ARGV; 0: none


def lua_text(name: str) -> str:
    return (resources.files("ingestq.core") / "lua" / name).read_text(encoding="utf-8")


def contract(name: str) -> Contract:
    header = lua_text(f"{name}.lua").split("]]", 1)[0]
    keys = re.findall(r"^KEYS\[(\d+)\] (\w+)", header, re.M)
    argv = re.findall(r"^ARGV\[(\d+)\] (.*)$", header, re.M)
    assert [int(i) for i, _ in keys] == list(range(1, len(keys) + 1)), name
    assert [int(i) for i, _ in argv] == list(range(1, len(argv) + 1)), name
    tails = [size for words, size in TAILS.items() if re.search(rf"^{re.escape(words)}\b",
                                                               header, re.M)]
    return Contract([k for _, k in keys], [a for _, a in argv], tails[0] if tails else 0)


def recorded_calls(queue: Queue) -> list[tuple[str, list[str], list[Any]]]:
    """Run every Queue method that calls a script; return each call's (name, KEYS, ARGV)."""
    calls: list[tuple[str, list[str], list[Any]]] = []
    real = queue._run

    def spy(name: str, keys: Any, args: Any) -> Any:
        calls.append((name, list(keys), list(args)))
        return real(name, keys, args)

    queue._run = spy  # type: ignore[method-assign]
    queue.enqueue_many([JobSpec("k", {"n": i}) for i in range(6)])
    jobs = queue.claim("w", 6, lease_seconds=10).jobs
    queue.heartbeat("w", [(j.id, j.token) for j in jobs[:2]])
    queue.ack(jobs[0].id, jobs[0].token, {"ok": True})
    queue.fail(jobs[1].id, jobs[1].token, error_entry("E", "boom", "permanent"),
               mode="permanent")
    queue.release(jobs[2].id, jobs[2].token)
    queue.clean([(jobs[3].id, jobs[3].token)])
    assert isinstance(queue.clock, ManualClock)
    queue.clock.advance(11)
    queue.reap()
    assert queue.dead_retry([jobs[1].id]) == [1]
    again = queue.claim("w", 6).jobs[0]
    queue.fail(again.id, again.token, error_entry("E", "boom", "permanent"), mode="permanent")
    assert queue.dead_purge([again.id]) == [1]
    return calls


def test_every_script_gets_the_keys_and_argv_its_header_documents(queue: Queue) -> None:
    calls = recorded_calls(queue)
    assert {name for name, _, _ in calls} == set(SCRIPT_NAMES)
    for name, keys, args in calls:
        c = contract(name)
        assert keys == [getattr(queue.keys, k) for k in c.keys], f"{name}: KEYS"
        extra = len(args) - len(c.argv)
        assert extra >= 0 and (extra == 0 if not c.tail else extra % c.tail == 0), (
            f"{name}: {len(args)} ARGV, header documents {len(c.argv)} + groups of {c.tail}")


def test_the_error_entry_has_the_fields_fail_lua_documents() -> None:
    documented = contract("fail").argv[6]  # ARGV[7]
    fields = re.search(r"JSON object \(([^)]*)\)", documented)
    assert fields is not None, documented
    assert set(fields.group(1).replace(" ", "").split(",")) == ErrorEntry.__required_keys__
    hints = typing.get_type_hints(ErrorEntry)
    assert all(hints[k] is str for k in ErrorEntry.__required_keys__)


def test_the_duration_buckets_counted_by_the_scripts_are_the_ones_metrics_read(
        queue: Queue) -> None:
    spelled = re.search(r"local DURATION_BUCKETS = \{([^}]*)\}", lua_text("includes/common.lua"))
    assert spelled is not None
    assert [b.strip() for b in spelled.group(1).split(",")] + ["+Inf"] == list(DURATION_BUCKETS)
    # and on the server: an attempt exactly at each bound is counted under that bound's name
    assert isinstance(queue.clock, ManualClock)
    for bound in [*DURATION_BUCKETS[:-1], "3600"]:
        job_id = queue.enqueue("k", {}).id
        job = queue.claim("w", 1, lease_seconds=7200).jobs[0]
        assert job.id == job_id
        queue.clock.advance(float(bound))
        queue.ack(job.id, job.token)
    stats: dict[str, str] = queue.client.hgetall(queue.keys.stats)
    counted = {f.split(":")[2]: int(v) for f, v in stats.items() if f.startswith("dur:k:")}
    assert counted == dict.fromkeys(DURATION_BUCKETS, 1)
