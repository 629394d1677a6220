"""Run one system's producer in that system's interpreter: print seconds as JSON.

    python driver.py <system> noops <n>
    python driver.py <system> long
"""

from __future__ import annotations

import importlib
import json
import sys


def main() -> None:
    """Import bench_<system> and enqueue what argv asks for."""
    system, what = sys.argv[1], sys.argv[2]
    module = importlib.import_module(f"bench_{system}")
    if what == "noops":
        print(json.dumps({"seconds": module.enqueue_noops(int(sys.argv[3]))}))
    else:
        module.enqueue_long()
        print(json.dumps({"seconds": 0.0}))


if __name__ == "__main__":
    main()
