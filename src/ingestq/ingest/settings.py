"""Typed settings of the ingestion pipeline: the ``ingest.pipeline`` block of the YAML config.

Self-contained so the config loader can embed :class:`PipelineSettings` as one field. Like the
rest of the configuration, unknown keys are errors and nothing is coerced silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ingestq.ingest.parsing.identity import Labels, check_label, normalise_path
from ingestq.ingest.parsing.reader import MAX_DOCUMENT_BYTES

if TYPE_CHECKING:  # the parsers (markdown-it, html) load only when something is parsed
    from ingestq.ingest.parsing.parse import ParseOptions

SQLITE_FILE_NAME = "ingest.sqlite3"


class _Block(BaseModel):
    # Same rules as the lead's config blocks: unknown keys and wrong types are errors.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EmbedderSettings(_Block):
    """Which embedder turns chunks into vectors, and how to reach it."""

    # hashing needs nothing but numpy, so a fresh install ingests and searches out of the box.
    kind: Literal["hashing", "sentence-transformers", "openai"] = "hashing"
    # A local directory or a model name; the MiniLM default is the model shipped on PyPI.
    model: str = "all-MiniLM-L6-v2"
    # None: the embedder's own size (512 for hashing, the model's for sentence-transformers);
    # required for "openai" because stores must size their collections before the first call.
    dim: int | None = Field(None, ge=8)
    url: str = "http://127.0.0.1:8000/v1"  # OpenAI-compatible base URL; /embeddings is appended
    api_key_env: str = "OPENAI_API_KEY"  # name of the variable holding the key; never the key
    # Texts per forward pass or HTTP request. None: the embedder's own (16 for
    # sentence-transformers on CPU, 64 per request for "openai"; see each embedder).
    batch_size: int | None = Field(None, ge=1)
    # Cores a local model uses (one single-threaded forward pass each). None: every usable core
    # in a worker (local workers share one model process per host), one in processes that embed
    # queries (ingestq/threads.py).
    threads: int | None = Field(None, ge=1)
    # one HTTP request; a hung server must not stall (finite: .inf would wait forever)
    timeout_seconds: float = Field(30.0, gt=0, le=3600, allow_inf_nan=False)
    max_retries: int = Field(5, ge=0)  # 429/5xx/timeouts retried with backoff, then transient

    def loads_local_model(self) -> bool:
        """Whether each process embedding with these settings holds a model in its own memory."""
        return self.kind == "sentence-transformers"


class StoreSettings(_Block):
    """Where documents, sections, chunks and vectors are written."""

    # sqlite: one embedded file every worker process shares; server: Qdrant (+ Neo4j) for scale.
    kind: Literal["sqlite", "server"] = "sqlite"
    sqlite_path: str | None = None  # None: <data_dir>/ingest.sqlite3 (also the server manifest)
    qdrant_url: str | None = None  # e.g. http://127.0.0.1:6333; needed for kind "server"
    # Local mode instead of a server: one process only (it locks the folder); ":memory:" works.
    qdrant_path: str | None = None
    qdrant_collection: str = "ingestq_chunks"  # one collection per embedding model is advised
    neo4j_uri: str | None = None  # None: no graph store; search then has no section context
    neo4j_user: str = "neo4j"  # the driver's default user
    neo4j_password_env: str = "NEO4J_PASSWORD"  # name of the variable holding the password
    neo4j_database: str | None = None  # None: the server's default database
    batch_size: int = Field(256, ge=1)  # rows per Qdrant upsert / Neo4j UNWIND


class SearchSettings(_Block):
    """How search ranks what was ingested."""

    # Weight of the vector ranking in the fusion, 0 (lexical only) to 1 (vectors only). None:
    # the embedder's default measured on the golden set: 0 for hashing, 0.5 for MiniLM (see
    # ingestq.ingest.fusion and docs/search.md).
    vector_weight: float | None = Field(None, ge=0, le=1)


class RootSettings(_Block):
    """An ingest root with labels: its documents belong to ``collection`` at ``version``."""

    path: str
    # Free-form labels (any string, semver or not; no "*", no control characters). They are
    # part of each document's id: the same file under two versions is two documents.
    collection: str = ""
    version: str = ""

    @field_validator("collection", "version", mode="before")
    @classmethod
    def _label(cls, value: object, info: ValidationInfo) -> str:
        if not isinstance(value, str):
            # YAML reads `version: 3.10` as the number 3.1: converting would lose the label.
            raise ValueError(f"{info.field_name} must be a string, got {value!r}: quote it in "
                             f"YAML, e.g. {info.field_name}: \"3.10\"")
        return check_label(str(info.field_name), value)

    @property
    def labels(self) -> Labels:
        """The root's labels."""
        return Labels(self.collection, self.version)


class PipelineSettings(_Block):
    """Parsing limits, the embedder and the stores of the ingestion pipeline."""

    # When non-empty, only files under these folders may be ingested. An entry is a folder, or
    # {path, collection, version} to label what is ingested from it (docs/cli.md).
    roots: list[str | RootSettings] = []
    # Documentation pages are kilobytes; parsing holds ~40x the file at its peak, so the default
    # (8 MiB) admits generated references and bounds a worker's memory (reader.py says more).
    max_file_bytes: int = Field(MAX_DOCUMENT_BYTES, ge=1)
    # Upper bound on a chunk's body. An embedder with an input limit (MiniLM: 256 word pieces)
    # gets chunks sized by its own tokenizer to fit it, prefix included, so nothing is truncated.
    chunk_tokens: int = Field(400, ge=16)
    chunk_overlap_tokens: int = Field(50, ge=0)  # keeps a sentence cut at a boundary findable
    invalid_utf8: Literal["replace", "refuse"] = "replace"  # replace: ingest with a warning
    embedder: EmbedderSettings = EmbedderSettings()
    store: StoreSettings = StoreSettings()
    search: SearchSettings = SearchSettings()

    @field_validator("roots")
    @classmethod
    def _distinct_roots(cls, roots: list[str | RootSettings]) -> list[str | RootSettings]:
        paths = [normalise_path(r if isinstance(r, str) else r.path) for r in roots]
        twice = sorted({p for p in paths if paths.count(p) > 1})
        if twice:
            raise ValueError(f"roots name the same folder more than once: {twice}; a folder "
                             "has one collection and version (ingest another version with "
                             "ingestctl ingest --version)")
        return roots

    @property
    def root_paths(self) -> list[str]:
        """The roots' folders, as given."""
        return [r if isinstance(r, str) else r.path for r in self.roots]

    def labels_for(self, path: str) -> Labels:
        """The labels of the innermost root holding ``path``; none when no root holds it."""
        target = Path(normalise_path(path))
        best: tuple[int, Labels] | None = None
        for root in self.roots:
            if isinstance(root, str):
                folder, labels = root, Labels()
            else:
                folder, labels = root.path, root.labels
            base = Path(normalise_path(folder))
            if target.is_relative_to(base) and (best is None or len(base.parts) > best[0]):
                best = (len(base.parts), labels)
        return best[1] if best else Labels()

    def parse_options(self) -> ParseOptions:
        """Return the parser's options for these settings."""
        from ingestq.ingest.parsing.parse import ParseOptions

        return ParseOptions(
            roots=tuple(self.root_paths),
            max_file_bytes=self.max_file_bytes,
            chunk_tokens=self.chunk_tokens,
            chunk_overlap_tokens=self.chunk_overlap_tokens,
            invalid_utf8=self.invalid_utf8,
        )

    def sqlite_file(self, data_dir: Path) -> Path:
        """Return the SQLite database path: the configured one, else inside the data directory."""
        if self.store.sqlite_path is not None:
            return Path(self.store.sqlite_path)
        return data_dir / SQLITE_FILE_NAME
