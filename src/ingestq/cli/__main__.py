"""``python -m ingestq.cli``: the ingestctl program, as child processes start it."""

from ingestq.cli import main

main()
