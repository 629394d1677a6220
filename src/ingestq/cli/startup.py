"""Start-up with the cyclic garbage collector paused.

Importing a command (typer, click, pydantic and the settings models, redis-py) allocates tens
of thousands of long-lived objects and no garbage, yet the collector's passes over them were a
tenth of `ingestctl status` (bench/startup.py). The program pauses the collector before its
first import; :func:`resume` runs once the command is known (``ExitCodeGroup.resolve_command``):
it freezes what start-up built (it lives as long as the process, so no later pass need walk it)
and turns the collector back on, so a long-running command (worker, serve, up) collects as
usual. A brief command (``BRIEF_COMMANDS``) keeps it paused until the program ends.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Stop collecting until :func:`resume` (the program calls this before its imports); a
    collector the host had already turned off stays off."""
    global _paused
    _paused = gc.isenabled()
    gc.disable()


def resume() -> None:
    """Collect again, without ever walking what start-up built; a no-op unless paused here."""
    global _paused
    if _paused:
        gc.freeze()
        gc.enable()
        _paused = False
