"""Retrievers: dense (embeddings and faiss), lexical (BM25 with bm25s), and hybrid (reciprocal rank fusion).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from ftrag.retrieval.chunking import Chunk
from ftrag.retrieval.index import (
    as_matrix,
    build_index,
    check_k,
    check_queries,
    embed,
    embed_queries,
    search_index,
)

# "What is the ..." carries no information about *which* document answers it; query processing strips it.
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were do does did the a an of for to in on at by "
    "with from as that this be been has have had".split())
_NAME_OR_CODE = re.compile(r"\b(?:[A-Z][\w-]*|[\w-]*\d[\w-]*)")  # "Kelqora Hub", "INC-9060", "KH-421"


# ----------------------------------------------------------------------------------------------------------
# Retrievers: each has .chunks and .search(queries, k) -> (ids, scores)


def strip_question_words(query: str) -> str:
    """Query processing: drop question words and function words ("What is the ...") that match any document."""
    words = [w for w in query.rstrip("?").split() if w.lower().strip(",") not in QUESTION_WORDS]
    return " ".join(words) or query


def emphasize_names(query: str) -> str:
    """Query processing: repeat the names and codes the question mentions, so they weigh more than its wording."""
    names = _NAME_OR_CODE.findall(query)
    if names and names[0].lower() in QUESTION_WORDS:  # the capitalised first word of "Who leads ...?"
        names = names[1:]
    return f"{query} {' '.join(names)}" if names else query


class DenseRetriever:
    """Embeds the chunks once; a query is embedded and matched by inner product in a faiss index."""

    def __init__(self, chunks: Sequence[Chunk], embedder, kind: str = "flat", *, vectors: np.ndarray | None = None,
                 query_fn: Callable[[str], str] | None = None, **index_kw):
        self.chunks, self.embedder, self.query_fn = list(chunks), embedder, query_fn
        if not self.chunks:
            raise ValueError("a retriever needs at least one chunk")
        self.vectors = embed(embedder, [c.text for c in self.chunks]) if vectors is None else as_matrix(
            vectors, "vectors")
        if len(self.vectors) != len(self.chunks):
            raise ValueError(f"got {len(self.vectors)} vectors for {len(self.chunks)} chunks; they must pair up")
        self.index = build_index(self.vectors, kind, **index_kw)

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = check_queries(queries)
        check_k(k, len(self.chunks))
        if self.query_fn:
            queries = [self.query_fn(q) for q in queries]
        return search_index(self.index, embed_queries(self.embedder, queries), k)

    def add(self, new_chunks: Sequence[Chunk]) -> None:
        """Index more chunks (new knowledge, no training): embed them and append them to the index."""
        new_chunks = list(new_chunks)
        vectors = embed(self.embedder, [c.text for c in new_chunks])
        self.index.add(vectors)
        self.vectors = np.vstack([self.vectors, vectors])
        self.chunks += new_chunks


class BM25Retriever:
    """Okapi BM25 over word tokens (bm25s), English stop words removed."""

    def __init__(self, chunks: Sequence[Chunk], *, k1: float = 1.5, b: float = 0.75,
                 query_fn: Callable[[str], str] | None = None):
        self.chunks, self.k1, self.b, self.query_fn = list(chunks), k1, b, query_fn
        if not self.chunks:
            raise ValueError("a retriever needs at least one chunk")
        self._build()

    def _build(self) -> None:
        import bm25s

        self.bm25 = bm25s.BM25(k1=self.k1, b=self.b)
        self.bm25.index(bm25s.tokenize([c.text for c in self.chunks], stopwords="en", show_progress=False),
                        show_progress=False)
        self.vocab = set(self.bm25.vocab_dict)

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        import bm25s

        queries = check_queries(queries)
        check_k(k, len(self.chunks))
        if self.query_fn:
            queries = [self.query_fn(q) for q in queries]
        tokens = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
        tokens = [[t for t in q if t in self.vocab] for q in tokens]
        # A query with no word of the vocabulary (all unknown, or all stop words) scores every chunk 0, a k-way tie:
        # its row is the first k chunks in index order, each scoring 0 (bm25s would break the tie arbitrarily).
        ids = np.tile(np.arange(k, dtype=np.int64), (len(queries), 1))
        scores = np.zeros((len(queries), k), dtype=np.float32)
        known = [i for i, q in enumerate(tokens) if q]
        if known:
            found, found_scores = self.bm25.retrieve([tokens[i] for i in known], k=k, show_progress=False,
                                                     n_threads=1)
            ids[known], scores[known] = found, found_scores
        return ids, scores

    def add(self, new_chunks: Sequence[Chunk]) -> None:
        """Index more chunks (BM25's statistics span the whole corpus, so the index is rebuilt: milliseconds)."""
        self.chunks += list(new_chunks)
        self._build()


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse several rankings of one query: each item scores sum(1 / (k + rank)), rank from 1; best first."""
    if isinstance(rankings, (str, bytes)) or not rankings:
        raise ValueError("rankings must be a non-empty list of rankings (each a list of ids, best first)")
    if k < 0:
        raise ValueError(f"the RRF constant k must be >= 0, got {k}")
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    # Ties (same fused score) keep the order in which items were first seen, so the result is deterministic.
    return sorted(scores.items(), key=lambda kv: -kv[1])


class HybridRetriever:
    """Reciprocal rank fusion of several retrievers, each asked for ``depth`` candidates."""

    def __init__(self, retrievers: Sequence, *, rrf_k: int = 60, depth: int = 50):
        self.retrievers, self.rrf_k, self.depth = list(retrievers), rrf_k, depth
        if len(self.retrievers) < 2:
            raise ValueError("hybrid retrieval fuses at least two retrievers")
        if len({len(r.chunks) for r in self.retrievers}) != 1:
            raise ValueError("the retrievers must index the same chunks (same list, same order)")

    @property
    def chunks(self) -> list[Chunk]:
        return self.retrievers[0].chunks

    def search(self, queries: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = check_queries(queries)
        check_k(k, len(self.chunks))
        depth = min(max(self.depth, k), len(self.chunks))
        runs = [r.search(queries, depth)[0] for r in self.retrievers]
        ids = np.zeros((len(queries), k), dtype=np.int64)
        scores = np.zeros((len(queries), k), dtype=np.float32)
        for q in range(len(queries)):
            fused = reciprocal_rank_fusion([run[q].tolist() for run in runs], self.rrf_k)
            if len(fused) < k:  # every retriever returned the same few: fill with the rest, in index order
                seen = {i for i, _ in fused}
                fused += [(i, 0.0) for i in range(len(self.chunks)) if i not in seen][:k - len(fused)]
            ids[q], scores[q] = [i for i, _ in fused[:k]], [s for _, s in fused[:k]]
        return ids, scores
