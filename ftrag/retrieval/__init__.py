"""Retrieval: cut documents (``chunking``), embed and index them (``index``), retrieve (``retrievers``); RAG on top
(``rag``, imported as ``ftrag.retrieval.rag``)."""

from ftrag.retrieval.chunking import (
    Chunk,
    chunk_documents,
    chunk_fixed,
    chunk_sentences,
    split_sentences,
)
from ftrag.retrieval.index import (
    EMBEDDER_PACKAGE,
    INDEX_KINDS,
    build_index,
    check_k,
    check_queries,
    embed,
    embed_queries,
    embedder_path,
    load_embedder,
    load_index,
    save_index,
    search_index,
    set_search_effort,
)
from ftrag.retrieval.retrievers import (
    QUESTION_WORDS,
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    emphasize_names,
    reciprocal_rank_fusion,
    strip_question_words,
)

__all__ = [
    "BM25Retriever",
    "Chunk",
    "DenseRetriever",
    "EMBEDDER_PACKAGE",
    "HybridRetriever",
    "INDEX_KINDS",
    "QUESTION_WORDS",
    "build_index",
    "check_k",
    "check_queries",
    "chunk_documents",
    "chunk_fixed",
    "chunk_sentences",
    "embed",
    "embed_queries",
    "embedder_path",
    "emphasize_names",
    "load_embedder",
    "load_index",
    "reciprocal_rank_fusion",
    "save_index",
    "search_index",
    "set_search_effort",
    "split_sentences",
    "strip_question_words",
]
