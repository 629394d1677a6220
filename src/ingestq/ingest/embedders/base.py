"""The embedder protocol, and the row normalisation every implementation shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32 rows of length ``dim``, each of unit L2 norm (or all zeros)."""

    name: str  # identifies the model and its version: part of the embedding cache key
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one row per text, shape ``(len(texts), dim)``, dtype float32."""
        ...


def normalise_rows(matrix: npt.ArrayLike) -> Vectors:
    """Scale each row to unit L2 norm; an all-zero row (a text with no words) stays zero."""
    rows = np.asarray(matrix, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"expected a 2-d matrix of embeddings, got shape {rows.shape}")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    # Dividing by 1 leaves zero rows zero instead of turning them into NaN.
    return np.asarray(rows / np.where(norms == 0.0, 1.0, norms), dtype=np.float32)
