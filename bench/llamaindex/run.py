"""The LlamaIndex side of bench/llamaindex.py; runs in bench/llamaindex/.venv, never in ingestq's.

    python run.py ingest CORPUS STORAGE MODEL_DIR   # (re-)ingest; prints one JSON object
    python run.py query STORAGE MODEL_DIR QUERIES.json TOP_K   # prints ranked nodes as JSON

A user's setup, as LlamaIndex documents it: ``SimpleDirectoryReader`` (``.md`` is read as plain
text, readers-file or not; ``filename_as_id`` so the docstore can recognise a file again), an
``IngestionPipeline`` of ``SentenceSplitter`` and ``HuggingFaceEmbedding``, with a docstore
(strategy upserts: unchanged document hashes are skipped), its default ingestion cache and a
``SimpleVectorStore``, all persisted to STORAGE so a second run is a re-ingest. The model is the
same local MiniLM folder ingestq uses (HF_HUB_OFFLINE=1: nothing is downloaded). Chunks are
counted in the model's own word pieces, 254 of them (256 minus [CLS] and [SEP]) with a 50-piece
overlap, which is ingestq's chunk size for this model (its heading prefix counts inside the 256
as LlamaIndex's metadata does).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
STARTED = time.perf_counter()

CHUNK_TOKENS = 254
OVERLAP_TOKENS = 50
BATCH = 16  # texts per forward pass, as ingestq's sentence-transformers embedder
VECTORS = "vector_store.json"


def model_tokens(model_dir: str):  # type: ignore[no-untyped-def]
    """A LlamaIndex tokenizer callable counting the model's own word pieces."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: tokenizer.encode(text.lower(), add_special_tokens=False).ids


def embed_model(model_dir: str):  # type: ignore[no-untyped-def]
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=model_dir, max_length=256, embed_batch_size=BATCH,
                                device="cpu", show_progress_bar=False)


def ingest(corpus: str, storage: str, model_dir: str) -> dict[str, object]:
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.storage.docstore import SimpleDocumentStore
    from llama_index.core.vector_stores import SimpleVectorStore

    imported = time.perf_counter()
    embed = embed_model(model_dir)
    loaded = time.perf_counter()
    store = Path(storage)
    vectors = (SimpleVectorStore.from_persist_path(str(store / VECTORS))
               if (store / VECTORS).exists() else SimpleVectorStore())
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=CHUNK_TOKENS, chunk_overlap=OVERLAP_TOKENS,
                                          tokenizer=model_tokens(model_dir)), embed],
        docstore=SimpleDocumentStore(), vector_store=vectors,
        docstore_strategy=DocstoreStrategy.UPSERTS)
    if store.exists():
        pipeline.load(str(store))
    documents = SimpleDirectoryReader(corpus, recursive=True, required_exts=[".md"],
                                      filename_as_id=True).load_data(show_progress=False)
    read = time.perf_counter()
    nodes = pipeline.run(documents=documents, show_progress=False)
    ran = time.perf_counter()
    pipeline.persist(str(store))
    vectors.persist(str(store / VECTORS))
    done = time.perf_counter()
    return {"files": len({d.metadata.get("file_path") for d in documents}),
            "documents": len(documents), "nodes_written": len(nodes),
            "nodes_stored": len(vectors.data.embedding_dict),
            "import_seconds": round(imported - STARTED, 3),
            "model_load_seconds": round(loaded - imported, 3),
            "read_seconds": round(read - loaded, 3), "run_seconds": round(ran - read, 3),
            "persist_seconds": round(done - ran, 3), "in_process_seconds": round(done - STARTED, 3)}


def query(storage: str, model_dir: str, queries_file: str, top_k: int) -> dict[str, object]:
    """What a VectorStoreIndex retriever does over this store: embed, then top-k by cosine.

    (SimpleVectorStore keeps no text, so VectorStoreIndex.from_vector_store refuses it; the
    retriever's two steps are called directly and nodes are mapped to their file.)
    """
    from llama_index.core.vector_stores import SimpleVectorStore, VectorStoreQuery

    vectors = SimpleVectorStore.from_persist_path(str(Path(storage) / VECTORS))
    embed = embed_model(model_dir)
    owner = vectors.data.text_id_to_ref_doc_id

    def retrieve(text: str) -> list[tuple[str, float]]:
        found = vectors.query(VectorStoreQuery(query_embedding=embed.get_query_embedding(text),
                                               similarity_top_k=top_k))
        return [(owner[i], float(s)) for i, s in zip(found.ids or [], found.similarities or [],
                                                     strict=True)]

    retrieve("warm up")
    answers = []
    for text in json.loads(Path(queries_file).read_text()):
        started = time.perf_counter()
        nodes = retrieve(text)
        answers.append({"seconds": time.perf_counter() - started,
                        "nodes": [{"path": path, "score": s} for path, s in nodes]})
    return {"answers": answers}


def main() -> None:
    if sys.argv[1] == "ingest":
        out = ingest(*sys.argv[2:5])
    else:
        out = query(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
