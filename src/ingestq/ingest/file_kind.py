"""The ``file`` job kind: ingest one file through this process's pipeline.

The pipeline (embedder, stores) is opened once per worker process, on the first job, from the
same configuration the worker loaded (``INGESTQ_CONFIG`` / ``ingestq.yaml`` / environment).
Bad input raises PermanentError from the parser, so it ends in the dead-letter set with its
reason and never takes the worker down.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestq.config import load_config
from ingestq.errors import PermanentError
from ingestq.ingest.files import FILE_KIND, payload_labels
from ingestq.worker.handlers import JobContext, default_registry

if TYPE_CHECKING:
    from ingestq.ingest.pipeline import Pipeline


def pipeline_for_this_process() -> Pipeline:
    """The process's pipeline, opened on first use from the current configuration."""
    # Imported here: the pipeline pulls in numpy and the parsers, which a worker that never
    # gets a file job (or is only starting) should not pay for.
    from ingestq.ingest.pipeline import Pipeline

    ingest = load_config().ingest
    return Pipeline.open(ingest.pipeline, Path(ingest.data_dir))


@default_registry.handler(FILE_KIND)
def ingest_file(job: JobContext) -> dict[str, Any]:
    """Parse, embed and store the file named by ``payload.path``."""
    path = job.payload.get("path")
    if not isinstance(path, str) or not path:
        raise PermanentError(f"file job {job.id}: payload needs a 'path' string, got {path!r}")
    pipeline = pipeline_for_this_process()
    try:
        labels = payload_labels(job.payload, path, pipeline.settings)
    except ValueError as exc:
        raise PermanentError(f"file job {job.id}: {exc}") from exc
    outcome = pipeline.ingest_file(
        path, force=bool(job.payload.get("force")), labels=labels,
        progress=lambda done, total, note: job.progress(done, total, note))
    return {"document_id": outcome.document_id, **labels.payload(), "status": outcome.status,
            "reason": outcome.reason, "sections_added": outcome.sections_added,
            "sections_updated": outcome.sections_updated,
            "sections_deleted": outcome.sections_deleted,
            "chunks_embedded": outcome.chunks_embedded}
