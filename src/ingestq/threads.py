"""Thread pools sized on purpose: numpy's BLAS gets one thread in every ingestctl process.

numpy's matrix products here are small (one query vector against the stored vectors), so a BLAS
pool buys nothing, while its spinning threads fight torch's pool, the handler threads and other
processes for the cores. Measured on the 2-core machine under load, 2,019 x 512 vectors: the
product took 37 ms a query with OpenBLAS's default pool, under 1 ms with one thread. torch keeps
its own pool (embedding batches use it).

An explicit setting in the environment wins; library users who import ingestq keep theirs.
"""

from __future__ import annotations

import os

# The variables OpenBLAS (numpy's wheels) and MKL (conda's numpy) read when they load.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """Ask for one BLAS thread unless configured; call before numpy is first imported."""
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
