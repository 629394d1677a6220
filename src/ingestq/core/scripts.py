"""Loads the Lua transition scripts once, inlining ``--!include`` lines, and registers them."""

from __future__ import annotations

from functools import cache
from importlib import resources

from redis import Redis
from redis.commands.core import Script

SCRIPT_NAMES = ("enqueue", "claim", "heartbeat", "ack", "fail", "release", "reap",
                "dead_retry", "dead_purge")


@cache
def source(name: str) -> str:
    """The full text of one script, with its includes inlined."""
    base = resources.files("ingestq.core") / "lua"
    lines = []
    for line in (base / f"{name}.lua").read_text(encoding="utf-8").splitlines():
        if line.startswith("--!include "):
            include = line.split(maxsplit=1)[1].strip()
            lines.append((base / "includes" / include).read_text(encoding="utf-8"))
        else:
            lines.append(line)
    return "\n".join(lines)


def register_all(client: Redis) -> dict[str, Script]:
    """One registered Script per transition; redis-py re-loads a script after NOSCRIPT."""
    return {name: client.register_script(source(name)) for name in SCRIPT_NAMES}
