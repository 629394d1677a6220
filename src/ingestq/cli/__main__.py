"""``python -m ingestq.cli``: the ingestctl program, as child processes start it."""

from ingestq.cli import main

if __name__ == "__main__":
    main()
