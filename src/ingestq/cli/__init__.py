"""ingestctl, the operator CLI: thin commands over the library.

:func:`main` is the program: the ``ingestctl`` script and ``python -m ingestq.cli``.
"""

from __future__ import annotations


def main() -> None:
    """Run ingestctl, its start-up outside the garbage collector (ingestq.cli.startup)."""
    from ingestq.cli import startup

    startup.pause()
    try:
        from ingestq.cli.main import main as run

        run()
    finally:  # help and usage errors end before the command would resume it
        startup.resume()
