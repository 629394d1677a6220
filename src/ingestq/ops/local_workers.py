"""How many local worker processes to start, and with how many handler slots each.

``ingestctl ingest`` (when no worker is alive) and ``ingestctl up`` start worker processes on
this host. With an embedder that holds a model in each process's memory (sentence-transformers),
N processes held N copies of the model, its torch runtime and its activations: two MiniLM
workers peaked at about 4.4 GiB. The model releases the GIL while it runs and a worker's handler
threads already share its calls (``embedders/coalesce.py``), so one process with the slots of N
keeps as many documents in flight with one model, which runs one forward pass per core
(``ingestq/threads.py``). Figures: bench/RESULTS.md, section "local workers".
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestq.config import IngestSettings


@dataclass(frozen=True)
class Layout:
    """Local worker processes and the handler slots of each (None: the configured default)."""

    processes: int
    concurrency: int | None = None

    def argv(self) -> list[str]:
        """The `ingestctl worker` options this layout adds."""
        return [] if self.concurrency is None else ["--concurrency", str(self.concurrency)]


def local_layout(settings: IngestSettings, workers: int) -> Layout:
    """``workers`` processes, or one with all their slots when each would load its own model."""
    if workers > 1 and settings.pipeline.embedder.loads_local_model():
        return Layout(1, workers * settings.worker.concurrency)
    return Layout(workers)
