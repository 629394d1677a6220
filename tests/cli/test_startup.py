"""The program starts with the garbage collector paused and every command runs with it on.

In child interpreters: pausing the collector in the test process would change the suite.
"""

from __future__ import annotations

import ast
import subprocess
import sys

PROBE = """
import gc, sys
from ingestq.cli import main as program
import ingestq.cli.main as cli
BRIEF

seen = []

@cli.app.command("gc-probe")
def probe() -> None:
    seen.append((gc.isenabled(), gc.get_freeze_count()))

sys.argv = ["ingestctl", "gc-probe"]
try:
    program()
except SystemExit:
    pass
print(seen)
"""


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_a_command_runs_with_the_collector_on_and_start_up_frozen() -> None:
    enabled, frozen = ast.literal_eval(run(PROBE.replace("BRIEF", "")))[0]
    assert enabled is True
    assert frozen > 1000  # start-up's objects, out of every later collection


def test_pause_and_resume() -> None:
    out = run("import gc\nfrom ingestq.cli import startup\n"
              "startup.pause(); a = gc.isenabled()\n"
              "startup.resume(); b = gc.isenabled(); f = gc.get_freeze_count()\n"
              "gc.disable(); startup.resume(); c = gc.isenabled()\n"
              "print(a, b, f > 0, c)")
    # resume without a pause of its own leaves the collector as the host set it
    assert out == "False True True False"


def test_the_collector_is_back_on_when_the_program_ends_before_a_command() -> None:
    out = run("import gc, sys\nfrom ingestq.cli import main as program\n"
              "sys.argv = ['ingestctl', '--no-such-option']\n"
              "try:\n    program()\nexcept SystemExit as exc:\n    code = exc.code\n"
              "print(code, gc.isenabled())")
    assert out == "2 True"


def test_a_brief_command_runs_with_the_collector_still_paused() -> None:
    brief = PROBE.replace("BRIEF", "cli.BRIEF_COMMANDS = frozenset({'gc-probe'})")
    brief += "print(gc.isenabled())\n"
    seen, after = run(brief).splitlines()
    assert ast.literal_eval(seen) == [(False, 0)]
    assert after == "True"  # back on once the program returns


def test_every_brief_command_is_a_command_and_none_runs_long() -> None:
    import typer.main

    from ingestq.cli.main import BRIEF_COMMANDS, app

    names = set(typer.main.get_command(app).commands)
    assert names >= BRIEF_COMMANDS, BRIEF_COMMANDS - names
    long_running = {"worker", "reaper", "serve", "up", "mcp", "tail", "watch", "ingest",
                    "verify", "eval", "search", "dead", "clean", "jobs", "enqueue"}
    assert not BRIEF_COMMANDS & long_running


def test_a_collector_the_host_turned_off_stays_off() -> None:
    out = run("import gc\nfrom ingestq.cli import startup\n"
              "gc.disable(); startup.pause(); startup.resume()\n"
              "print(gc.isenabled(), gc.get_freeze_count())")
    assert out == "False 0"
