"""Thread pools sized on purpose: numpy's BLAS gets one thread in every ingestctl process, and a
local model uses the cores in the process that embeds in bulk and one thread elsewhere.

numpy's matrix products here are small (one query vector against the stored vectors), so a BLAS
pool buys nothing, while its spinning threads fight torch's pool, the handler threads and other
processes for the cores. Measured on the 2-core machine under load, 2,019 x 512 vectors: the
product took 37 ms a query with OpenBLAS's default pool, under 1 ms with one thread.

torch's pool: ``MKL_NUM_THREADS=1`` (set here for conda's MKL numpy) also caps torch, whose CPU
wheels bundle MKL, at one thread, so a local model's use of the cores is set explicitly when it
loads (``model_threads``). A worker embeds whole documents and is the one process per host that
holds the model for local workers (``ops/local_workers.py``): it uses every core this process
may run on, as one single-threaded forward pass per core (``embedders/sentence.py`` says why).
Every other process (search, the service, MCP) embeds one short query at a time, where a pool
only adds wake-ups: one thread. ``ingest.pipeline.embedder.threads`` overrides both, e.g. for
several workers started by hand on one host.

An explicit setting in the environment wins; library users who import ingestq keep theirs.
"""

from __future__ import annotations

import os

# The variables OpenBLAS (numpy's wheels) and MKL (conda's numpy) read when they load.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_bulk = False  # set by `ingestctl worker`: this process embeds documents, not queries


def one_blas_thread() -> None:
    """Ask for one BLAS thread unless configured; call before numpy is first imported."""
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def embed_in_bulk() -> None:
    """Mark this process as the one that embeds documents (a worker): its model uses the cores."""
    global _bulk
    _bulk = True


def model_threads(configured: int | None = None) -> int:
    """Cores a local model uses in this process: ``configured``, else see the module docstring."""
    if configured is not None:
        return configured
    return usable_cores() if _bulk else 1
