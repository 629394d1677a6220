"""``GET /search``: search from the service's warm process (model loaded once, matrix cached).

`ingestctl search` asks this route first: a fresh CLI process would load the embedder (seconds
for MiniLM) on every call. The answer names the SQLite store it searched in a header, so a CLI
configured for another store searches its own instead of taking this one's results.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from ingestq.service import STORE_HEADER
from ingestq.service.guards import require_read_token

router = APIRouter()
MAX_QUERY_CHARS = 1000  # a question, not a document: bounds the FTS query and the embedding


# The ingested text is as private as job payloads: the same read rule guards it.
@router.get("/search", dependencies=[Depends(require_read_token)])
def search_route(request: Request, response: Response,
                 q: str = Query(..., min_length=1, max_length=MAX_QUERY_CHARS),
                 k: int = Query(10, ge=1, le=200),
                 collection: str | None = Query(None, max_length=200, description=(
                     "only this collection (exact); default: every collection")),
                 version: str | None = Query(None, max_length=200, description=(
                     "only this version (exact), or a prefix ending in '*' ('3.*'); '*' is "
                     "every version; default: each collection's newest"))
                 ) -> list[dict[str, Any]]:
    """The ``k`` sections best matching ``q``, as ``ingestctl search --json`` prints them."""
    from ingestq.ingest.pipeline import Pipeline
    from ingestq.ingest.scope import SelectionError
    from ingestq.ingest.search import search

    settings = request.app.state.settings
    pipeline = Pipeline.open(settings.pipeline, Path(settings.data_dir))
    response.headers[STORE_HEADER] = str(pipeline.manifest.path.resolve())
    try:  # search refuses a malformed selection itself (ingest/scope.check_selection)
        found = search(pipeline, q, k, collection=collection, version=version)
    except SelectionError as exc:
        raise HTTPException(422, str(exc)) from exc
    return [dataclasses.asdict(r) for r in found]
