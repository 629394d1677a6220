"""Entry point for the peer benchmark: runs bench/peers/run.py (see bench/peers/README.md).

    python bench/peers.py [--quick] [--only ingestq,rq] [--skip-recovery]
"""

from __future__ import annotations

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).resolve().parent / "peers" / "run.py"), run_name="__main__")
