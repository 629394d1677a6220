"""Embedder names from the settings alone: no numpy, no model, cheap enough for any command.

The name identifies the model and its version; the manifest records it beside each document's
checksum and the embedding cache keys vectors by it. ``ingestctl ingest`` compares it before
enqueueing and a worker before parsing, so neither needs to load the embedder to skip a file.
"""

from __future__ import annotations

from pathlib import Path

from ingestq.ingest.settings import EmbedderSettings

HASHING_DEFAULT_DIM = 512
# Bumped whenever the hashing tokenisation or weighting changes, so cached vectors of the old
# scheme are not mixed with new ones (the name is part of the cache key).
HASHING_SCHEME_VERSION = 1


def hashing_name(dim: int) -> str:
    """The hashing embedder's name for ``dim`` dimensions."""
    return f"hashing-v{HASHING_SCHEME_VERSION}-{dim}"


def sentence_transformers_name(model: str) -> str:
    """A sentence-transformers model's name: a local directory by its folder name."""
    return f"st:{Path(model).name if Path(model).is_dir() else model}"


def openai_name(model: str) -> str:
    """An OpenAI-compatible endpoint's model name."""
    return f"openai:{model}"


def embedder_name(settings: EmbedderSettings) -> str:
    """The name the embedder built from ``settings`` has, without building it."""
    if settings.kind == "hashing":
        return hashing_name(settings.dim or HASHING_DEFAULT_DIM)
    if settings.kind == "sentence-transformers":
        return sentence_transformers_name(settings.model)
    return openai_name(settings.model)
