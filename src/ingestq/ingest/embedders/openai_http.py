"""Embeddings from an OpenAI-compatible HTTP endpoint (``POST {url}/embeddings``).

Uses the standard library's ``urllib`` so the production embedder adds no dependency. Requests
are batched; 429, 5xx, connection errors and timeouts are retried with capped exponential backoff
and jitter, then reported as a :class:`TransientError` so the queue retries the job later. Other
4xx answers can never succeed with the same input and are a :class:`PermanentError`.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ingestq.errors import ConfigError, PermanentError, TransientError
from ingestq.ingest.embedder_names import openai_name
from ingestq.ingest.embedders.base import Vectors, normalise_rows

# 401/403 are an operator's key problem that a fix makes pass: retry the job later, not dead.
_TRANSIENT_STATUS = frozenset({401, 403, 408, 409, 425, 429})
_BACKOFF_BASE_SECONDS = 0.5
_BACKOFF_CAP_SECONDS = 20.0
_ERROR_BODY_CHARS = 300
# Texts per request: few enough that one request stays well under the servers' input caps and
# timeouts, many enough that the round trip is not the cost.
OPENAI_BATCH_SIZE = 64


class OpenAICompatibleEmbedder:
    """Batched, retrying client of an OpenAI-compatible ``/embeddings`` endpoint."""

    def __init__(
        self,
        *,
        url: str,
        model: str,
        dim: int,
        api_key: str | None = None,
        batch_size: int = OPENAI_BATCH_SIZE,
        timeout_seconds: float = 30.0,
        max_retries: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Configure the client; ``sleep`` is injectable so tests need not wait out backoff."""
        self.endpoint = url.rstrip("/") + "/embeddings"
        self.model = model
        self.dim = dim
        self.name = openai_name(model)
        self._api_key = api_key
        self.batch_size = batch_size
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self._sleep = sleep

    @classmethod
    def from_env(cls, *, api_key_env: str, **kwargs: Any) -> OpenAICompatibleEmbedder:
        """Build a client whose key is read from the variable ``api_key_env`` (may be unset)."""
        return cls(api_key=os.environ.get(api_key_env) or None, **kwargs)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return unit-length rows, one per text, requesting ``batch_size`` texts at a time."""
        parts = [np.zeros((0, self.dim), dtype=np.float32)]
        for start in range(0, len(texts), self.batch_size):
            parts.append(self._embed_batch(list(texts[start : start + self.batch_size])))
        return normalise_rows(np.concatenate(parts))

    def _embed_batch(self, batch: list[str]) -> Vectors:
        body = json.dumps({"model": self.model, "input": batch}).encode("utf-8")
        last_error = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._sleep(_backoff(attempt))
            try:
                return self._parse(self._post(body), len(batch))
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:_ERROR_BODY_CHARS].decode("utf-8", "replace")
                if exc.code < 500 and exc.code not in _TRANSIENT_STATUS:
                    raise PermanentError(
                        f"embedding endpoint {self.endpoint} refused the batch with HTTP "
                        f"{exc.code}: {detail}"
                    ) from exc
                last_error = f"HTTP {exc.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
        raise TransientError(
            f"embedding endpoint {self.endpoint} failed {self.max_retries + 1} times; "
            f"last error: {last_error}"
        )

    def _post(self, body: bytes) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
            return json.loads(response.read())

    def _parse(self, payload: Any, expected: int) -> Vectors:
        try:
            items = sorted(payload["data"], key=lambda item: int(item.get("index", 0)))
            rows = np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise TransientError(
                f"embedding endpoint {self.endpoint} answered without data[].embedding: {exc}"
            ) from exc
        if rows.shape != (expected, self.dim):
            raise ConfigError(
                f"embedding endpoint {self.endpoint} returned shape {rows.shape} for "
                f"{expected} texts; embedder.dim is {self.dim} (model {self.model!r})"
            )
        return rows


def _backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): capped doubling with full jitter."""
    ceiling = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))
