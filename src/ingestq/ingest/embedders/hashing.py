"""A dependency-free embedder: signed feature hashing of word unigrams and bigrams.

No model and no download, so a fresh install embeds and searches at once. Vectors capture word
overlap (shared words and word pairs), not meaning; for semantic search choose
sentence-transformers or an OpenAI-compatible endpoint.

The bucket and sign of each feature come from blake2b, never Python's ``hash()``, which is salted
per process: every worker process must map a word to the same bucket.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

import numpy as np

from ingestq.ingest.embedder_names import HASHING_DEFAULT_DIM, hashing_name
from ingestq.ingest.embedders.base import Vectors, normalise_rows

# 512, not 384: a power of two lets a bucket be taken with a mask (no modulo bias), and with
# unigrams plus bigrams a documentation corpus has tens of thousands of features, so the extra
# buckets cut collisions by a quarter while a 512-float dot product costs nothing at this scale.
DEFAULT_DIM = HASHING_DEFAULT_DIM
_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1 << 17)
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    """Return (index, sign) of a feature; cached because documentation repeats its words."""
    digest = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest())
    sign = 1.0 if digest >> 63 else -1.0
    return digest & (dim - 1), sign


def features(text: str) -> Counter[str]:
    """Return the lowercase word unigrams and bigrams of ``text`` with their counts."""
    words = _WORD.findall(text.casefold())
    grams: Counter[str] = Counter(words)
    grams.update(f"{a} {b}" for a, b in pairwise(words))
    return grams


class HashingEmbedder:
    """Signed feature hashing of word uni+bi-grams with sublinear term frequency, numpy only."""

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        """Create an embedder of ``dim`` dimensions (a power of two)."""
        if dim < 8 or dim & (dim - 1):
            raise ValueError(f"hashing embedder dim must be a power of two >= 8, got {dim}")
        self.dim = dim
        self.name = hashing_name(dim)  # bumps with the scheme version

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return unit-length rows; a text without words gives a zero row."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, count in features(text).items():
                index, sign = _bucket(feature, self.dim)
                # 1 + log(tf): a word said ten times is not ten times as telling.
                out[row, index] += sign * (1.0 + math.log(count))
        return normalise_rows(out)
