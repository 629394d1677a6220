"""Ask a running service (``ingestctl serve`` or ``up``) to search: its model is already loaded.

A fresh ``ingestctl search`` process loads the embedder every call: seconds for MiniLM, against
milliseconds for a warm process. The service is tried on the configured host and port with a
short connect timeout (a refused loopback connection answers at once); its answer is used only
when it searched the same SQLite store this configuration names.
"""

from __future__ import annotations

import json
import socket
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ingestq.config import IngestSettings
from ingestq.service import STORE_HEADER

CONNECT_TIMEOUT = 0.5  # loopback: a live service accepts in microseconds
ANSWER_TIMEOUT = 30.0  # the service's first search loads the model


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return True
    except OSError:
        return False


def ask_service(settings: IngestSettings, query: str, k: int, collection: str | None = None,
                version: str | None = None) -> list[dict[str, Any]] | None:
    """The service's results, or None when no service of this store answers."""
    if not _listening(settings.service.local_host(), settings.service.port):
        return None
    params: dict[str, str | int] = {"q": query, "k": k}
    params.update({name: value for name, value in (("collection", collection),
                                                   ("version", version)) if value is not None})
    url = settings.service.local_url("/search?" + urllib.parse.urlencode(params))
    expected = str(settings.pipeline.sqlite_file(Path(settings.data_dir)).resolve())
    try:
        request = urllib.request.Request(url)
        if settings.service.token:  # a service beyond loopback asks for it on reads
            request.add_header("Authorization", f"Bearer {settings.service.token}")
        with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT) as reply:
            if reply.headers.get(STORE_HEADER) != expected:
                return None  # another store's service, or not ingestq at all
            results = json.loads(reply.read())
    except (OSError, ValueError):
        return None  # refused, timed out, an error status, or not JSON: search here instead
    return results if isinstance(results, list) else None
