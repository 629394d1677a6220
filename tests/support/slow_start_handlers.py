"""A handler module that is slow to import: holds a worker in its start-up for a signal test.

It writes the file named by SLOW_START_MARKER when its import begins, then sleeps
SLOW_START_SECONDS (default 3) before the worker can install its own signal handlers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

Path(os.environ["SLOW_START_MARKER"]).write_text(str(os.getpid()))
time.sleep(float(os.environ.get("SLOW_START_SECONDS", "3")))
