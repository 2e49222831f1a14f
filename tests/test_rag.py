"""Lesson 04's retrieval and RAG helpers: chunking, indexes, BM25, fusion, metrics (checked against ranx), prompts."""

import math

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from ftrag.files import read_jsonl
from ftrag.lm import format_prompt
from ftrag.paths import data_path
from ftrag.retrieval import (
    BM25Retriever,
    Chunk,
    HybridRetriever,
    build_index,
    chunk_documents,
    chunk_fixed,
    chunk_sentences,
    emphasize_names,
    load_index,
    reciprocal_rank_fusion,
    save_index,
    search_index,
    set_search_effort,
    split_sentences,
    strip_question_words,
)
from ftrag.retrieval.rag import (
    build_prompt,
    doc_ranking,
    doc_rankings,
    mrr_at_k,
    recall_at_k,
    rerank,
    retrieval_metrics,
    retrieval_table,
    retrieve_passages,
)


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(data_path("models", "course-lm"))


@pytest.fixture(scope="module")
def docs():
    return read_jsonl("knowledge", "docs.jsonl")


@pytest.fixture(scope="module")
def qa():
    return read_jsonl("knowledge", "qa.jsonl")


def _unit(n, dim=32, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ----------------------------------------------------------------------------------------------------------
# Chunking


def test_fixed_windows_cover_every_token_and_map_back(docs, tokenizer):
    chunks = chunk_fixed(docs, tokenizer, size=32, overlap=8)
    by_doc = {d["doc_id"]: d for d in docs}
    assert {c.doc_id for c in chunks} == set(by_doc) and len({c.chunk_id for c in chunks}) == len(chunks)
    for doc_id, doc in by_doc.items():
        ids = tokenizer(doc["text"], add_special_tokens=False)["input_ids"]
        mine = [c for c in chunks if c.doc_id == doc_id]
        covered = set().union(*(range(c.start, c.end) for c in mine))
        assert covered == set(range(len(ids))), f"{doc_id}: tokens not covered by any window"
        assert all(c.end - c.start <= 32 for c in mine)
        assert all(b.start - a.start == 24 for a, b in zip(mine, mine[1:], strict=False)), "stride is size - overlap"
        for c in mine:
            assert c.text == tokenizer.decode(ids[c.start:c.end]).strip() and c.title == doc["title"]


def test_sentence_chunks_keep_sentences_whole_and_in_order(docs, tokenizer):
    chunks = chunk_sentences(docs, tokenizer, max_tokens=40)
    for doc in docs:
        mine = [c for c in chunks if c.doc_id == doc["doc_id"]]
        assert " ".join(c.text for c in mine) == " ".join(doc["text"].split())
        sentences = split_sentences(doc["text"])
        assert [(c.start, c.end) for c in mine][0][0] == 0 and mine[-1].end == len(sentences)
        assert all(a.end == b.start for a, b in zip(mine, mine[1:], strict=False))
        for c in mine:  # within the budget, unless one sentence alone is longer
            assert c.end - c.start == 1 or len(tokenizer(" " + c.text, add_special_tokens=False)["input_ids"]) <= 40
    assert split_sentences("The Hub costs $1.25 million. It shipped in 2020.") == [
        "The Hub costs $1.25 million.", "It shipped in 2020."]
    assert len(chunk_documents(docs)) == len(docs)


@pytest.mark.parametrize("bad", [dict(size=0), dict(size=8, overlap=8), dict(size=8, overlap=-1)])
def test_fixed_windows_reject_bad_sizes(docs, tokenizer, bad):
    with pytest.raises(ValueError, match="overlap"):
        chunk_fixed(docs, tokenizer, **bad)


def test_chunking_rejects_bad_documents(tokenizer):
    with pytest.raises(ValueError, match="non-empty list"):
        chunk_sentences([], tokenizer)
    with pytest.raises(ValueError, match="no doc_id"):
        chunk_documents([{"text": "x"}])
    with pytest.raises(ValueError, match="empty text"):
        chunk_fixed([{"doc_id": "a", "text": "  "}], tokenizer)


# ----------------------------------------------------------------------------------------------------------
# Indexes


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_index_save_load_round_trip(tmp_path, kind):
    vectors, queries = _unit(400), _unit(20, seed=1)
    index = build_index(vectors, kind, nlist=8, nprobe=8)
    ids, scores = search_index(index, queries, 5)
    loaded = load_index(save_index(index, tmp_path / "sub" / f"{kind}.faiss"))
    ids2, scores2 = search_index(loaded, queries, 5)
    assert np.array_equal(ids, ids2) and np.allclose(scores, scores2)
    exact_ids, exact_scores = search_index(build_index(vectors, "flat"), queries, 5)
    if kind == "flat":  # inner products of unit vectors, best first
        assert np.allclose(scores, np.take_along_axis(queries @ vectors.T, ids, 1), atol=1e-5)
        assert (np.diff(scores, axis=1) <= 1e-6).all()
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ids, exact_ids, strict=True)])
    assert overlap >= 0.9, f"{kind} recall against the exact index is only {overlap:.2f} with full search effort"


def test_index_errors(tmp_path):
    index = build_index(_unit(10), "flat")
    with pytest.raises(ValueError, match="larger than the 10 chunks"):
        search_index(index, _unit(2), 11)
    with pytest.raises(ValueError, match="positive integer"):
        search_index(index, _unit(2), 0)
    with pytest.raises(ValueError, match="dimension 16"):
        search_index(index, _unit(2, dim=16), 3)
    with pytest.raises(ValueError, match="unknown index kind 'annoy'"):
        build_index(_unit(10), "annoy")
    with pytest.raises(ValueError, match="at least 16 vectors"):
        build_index(_unit(10), "ivf", nlist=16)
    with pytest.raises(FileNotFoundError, match="save_index"):
        load_index(tmp_path / "missing.faiss")


def test_an_approximate_search_that_reaches_too_few_vectors_says_what_to_do():
    vectors = _unit(40, dim=8)
    index = build_index(vectors, "ivf", nlist=16, nprobe=1)  # 2-3 vectors a cluster: one cluster holds < 10
    with pytest.raises(ValueError, match=r"found only \d of the k=10 .*set_search_effort\(index, 2\).*'flat'"):
        search_index(index, vectors[:5], 10)  # faiss pads the result with -1, which would read as the last chunk
    set_search_effort(index, 16)  # every cluster: the search is exhaustive and finds k real vectors
    ids, _ = search_index(index, vectors[:5], 10)
    assert (ids >= 0).all() and ids[:, 0].tolist() == list(range(5))
    with pytest.raises(ValueError, match="k=41 is larger than the 40 chunks in the index; ask for at most 40"):
        search_index(index, vectors[:5], 41)


def test_rag_helpers_never_read_minus_one_as_the_last_chunk():
    chunks = [Chunk(f"d{i}#0", f"d{i}", "", "", f"text {i}", 0, 1) for i in range(3)]
    with pytest.raises(ValueError, match="index -1 is out of range for 3 chunks: faiss .*search effort"):
        retrieve_passages(_Fixed(chunks, [0, -1]), ["q"], 2)
    with pytest.raises(ValueError, match="index -1 is out of range"):
        doc_ranking([0, -1], chunks)
    assert retrieve_passages(_Fixed(chunks, [2, 0]), ["q"], 2) == [["text 2", "text 0"]]


@pytest.mark.slow
def test_embedder_loads_offline_and_dense_retrieval_works(docs, qa, monkeypatch):
    from ftrag.retrieval import DenseRetriever, embed, embed_queries, load_embedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the shipped embedder loads with the hub unreachable
    embedder = load_embedder("cpu")
    texts = ["The Hindrette Team sits on floor 3.", "Which floor is the Hindrette Team on?", "Tom likes tea."]
    vectors = embed(embedder, texts)
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[2] @ vectors[1], "a question should be closest to its answer"
    assert np.allclose(embed_queries(embedder, texts[::-1]), vectors[::-1], atol=1e-6)
    chunks = chunk_documents(docs[:40])
    dense = DenseRetriever(chunks, embedder)
    lexical = [q for q in qa if q["kind"] == "lexical" and q["doc_id"] in {c.doc_id for c in chunks}][:30]
    ids, _ = dense.search([q["question"] for q in lexical], 5)
    assert recall_at_k(doc_rankings(ids, chunks), [q["doc_id"] for q in lexical], 5) >= 0.9
    new = Chunk("new#0", "new", "Quillmar Beacon", "product", "The catalog code for the Quillmar Beacon is QB-512.",
                0, 1)
    dense.add([new])
    assert dense.index.ntotal == len(dense.chunks) == 41
    ids, _ = dense.search(["What is the catalog code for the Quillmar Beacon?"], 1)
    assert dense.chunks[ids[0, 0]].doc_id == "new"
    with pytest.raises(ValueError, match="larger than the 41 chunks"):
        dense.search(["x"], 42)


# ----------------------------------------------------------------------------------------------------------
# BM25, fusion, query processing


def test_bm25_finds_the_document_named_in_the_question(docs, qa):
    chunks = chunk_documents(docs)
    bm25 = BM25Retriever(chunks)
    lexical = [q for q in qa if q["kind"] == "lexical"][:100]
    ids, scores = bm25.search([q["question"] for q in lexical], 3)
    assert ids.shape == scores.shape == (100, 3) and (np.diff(scores, axis=1) <= 0).all()
    assert recall_at_k(doc_rankings(ids, chunks), [q["doc_id"] for q in lexical], 1) >= 0.9
    with pytest.raises(ValueError, match="query list is empty"):
        bm25.search([], 3)
    with pytest.raises(ValueError, match="list of strings"):
        bm25.search("Who leads the team?", 3)
    with pytest.raises(ValueError, match="larger than the"):
        bm25.search(["x"], len(chunks) + 1)
    assert bm25.search(["zzzz qqqq"], 2)[0].shape == (1, 2), "a query of unknown words still returns k chunks"


def test_bm25_query_with_no_known_word_scores_every_chunk_zero(docs):
    bm25 = BM25Retriever(chunk_documents(docs))
    named = "Who leads the Hindrette Team?"
    ids, scores = bm25.search(["zzzz qqqq", named, "What is the?"], 3)  # unknown words; stop words only
    assert ids[[0, 2]].tolist() == [[0, 1, 2]] * 2 and (scores[[0, 2]] == 0).all(), "a tie: index order, score 0"
    alone_ids, alone_scores = bm25.search([named], 3)
    assert ids[1].tolist() == alone_ids[0].tolist() and np.allclose(scores[1], alone_scores[0])
    assert scores[1, 0] > 0 and ids.dtype == np.int64 and scores.dtype == np.float32


def test_rrf_on_a_hand_example():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    assert math.isclose(dict(fused)[1], 1 / 61 + 1 / 62) and math.isclose(dict(fused)[4], 1 / 63)
    assert [item for item, _ in reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=0)] == ["b", "a", "c"]
    with pytest.raises(ValueError, match="non-empty"):
        reciprocal_rank_fusion([])


class _Fixed:
    """A stand-in retriever that returns the same ranking for every query."""

    def __init__(self, chunks, ranking):
        self.chunks, self.ranking = chunks, ranking

    def search(self, queries, k):
        return np.array([self.ranking[:k]] * len(queries)), np.zeros((len(queries), k))


def test_hybrid_is_rrf_of_its_parts():
    chunks = [Chunk(f"d{i}#0", f"d{i}", "", "", f"text {i}", 0, 1) for i in range(6)]
    hybrid = HybridRetriever([_Fixed(chunks, [0, 1, 2, 3, 4, 5]), _Fixed(chunks, [2, 0, 5, 1, 3, 4])], depth=6)
    ids, scores = hybrid.search(["q", "r"], 3)
    want = reciprocal_rank_fusion([[0, 1, 2, 3, 4, 5], [2, 0, 5, 1, 3, 4]])[:3]
    assert ids[0].tolist() == ids[1].tolist() == [i for i, _ in want] == [0, 2, 1]
    assert np.allclose(scores[0], [s for _, s in want])
    with pytest.raises(ValueError, match="at least two"):
        HybridRetriever([_Fixed(chunks, [0])])


def test_query_processing():
    assert emphasize_names("Who leads the Hindrette Team?") == "Who leads the Hindrette Team? Hindrette Team"
    assert emphasize_names("When did Incident INC-9060 occur?").endswith("? Incident INC-9060")
    assert emphasize_names("what is it?") == "what is it?"
    assert strip_question_words("What is the list price of the Kelqora Hub?") == "list price Kelqora Hub"


# ----------------------------------------------------------------------------------------------------------
# Metrics, checked against an independent implementation (ranx) on a real run


@pytest.mark.slow  # about 10 s
def test_metrics_agree_with_ranx_on_a_real_run(docs, qa, tokenizer, monkeypatch):
    # ranx's metrics are numba functions; compiling them took 30 s of this test. With the JIT off they run as the
    # same Python code (an independent implementation all the same) on these 1,488 queries in well under a second.
    import numba.core.config

    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    numba.core.config.reload_config()
    from ranx import Qrels, Run, evaluate

    chunks = chunk_sentences(docs, tokenizer, max_tokens=24)  # several chunks per document: dedup matters
    ids, _ = BM25Retriever(chunks, query_fn=strip_question_words).search([q["question"] for q in qa], 20)
    rng = np.random.default_rng(0)  # and a much worse run, so the metrics are far from 1
    noisy = np.array([rng.permutation(row) for row in ids])
    for run_ids in (ids, noisy):
        rankings = doc_rankings(run_ids, chunks)
        gold = [q["doc_id"] for q in qa]
        qrels = Qrels({q["id"]: {q["doc_id"]: 1} for q in qa})
        run = Run({q["id"]: {d: 1.0 / (r + 1) for r, d in enumerate(ranking)}
                   for q, ranking in zip(qa, rankings, strict=True)})
        ours = retrieval_metrics(rankings, gold, ks=(1, 3, 5, 10), mrr_k=10)
        theirs = evaluate(qrels, run, ["recall@1", "recall@3", "recall@5", "recall@10", "mrr@10"])
        for k in (1, 3, 5, 10):
            assert math.isclose(ours[f"recall@{k}"], theirs[f"recall@{k}"], abs_tol=1e-9)
        assert math.isclose(ours["MRR@10"], theirs["mrr@10"], abs_tol=1e-9)
    assert retrieval_metrics(doc_rankings(noisy, chunks), gold)["recall@1"] < 0.9, "the noisy run should be worse"


def test_metrics_by_hand_and_their_errors():
    rankings, gold = [["a", "b", "c"], ["c", "a"], ["x", "y", "b"]], ["a", "a", "b"]
    assert recall_at_k(rankings, gold, 1) == pytest.approx(1 / 3)
    assert recall_at_k(rankings, gold, 2) == pytest.approx(2 / 3)
    assert mrr_at_k(rankings, gold, 3) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert mrr_at_k(rankings, gold, 2) == pytest.approx((1 + 1 / 2) / 3)
    with pytest.raises(ValueError, match="2 rankings but 3"):
        recall_at_k(rankings[:2], gold, 1)
    with pytest.raises(ValueError, match="positive integer"):
        mrr_at_k(rankings, gold, 0)
    with pytest.raises(ValueError, match="empty"):
        recall_at_k([], [], 1)


def test_doc_ranking_maps_chunks_to_documents_once():
    chunks = [Chunk("a#0", "a", "", "", "x", 0, 1), Chunk("a#1", "a", "", "", "y", 1, 2),
              Chunk("b#0", "b", "", "", "z", 0, 1)]
    assert doc_ranking([1, 0, 2], chunks) == ["a", "b"]
    with pytest.raises(ValueError, match="out of range"):
        doc_ranking([3], chunks)


def test_retrieval_table_splits_by_kind():
    qa = [{"doc_id": "a", "kind": "lexical"}, {"doc_id": "b", "kind": "paraphrased"}]
    table = retrieval_table({"r": [["a"], ["a", "b"]]}, qa, ks=(1, 2))
    assert table.loc[("r", "lexical"), "recall@1"] == 1.0 and table.loc[("r", "paraphrased"), "recall@1"] == 0.0
    assert table.loc[("r", "all"), "recall@2"] == 1.0 and table.loc[("r", "all"), "MRR@10"] == 0.75


# ----------------------------------------------------------------------------------------------------------
# Prompt assembly and the reranker's score


def test_build_prompt_respects_the_token_budget(tokenizer):
    passages = [f"The Kelqora Hub number {i} is kept on floor {i}." for i in range(20)]
    prompt, n = build_prompt(tokenizer, "Where is the Kelqora Hub?", passages, max_tokens=120, reserve=16)
    assert 0 < n < 20 and prompt == format_prompt("Where is the Kelqora Hub?", passages[:n])
    assert len(tokenizer(prompt)["input_ids"]) <= 104
    assert len(tokenizer(format_prompt("Where is the Kelqora Hub?", passages[:n + 1]))["input_ids"]) > 104
    last, n_last = build_prompt(tokenizer, "Where is the Kelqora Hub?", passages, max_tokens=120, best_last=True)
    assert n_last == n and last == format_prompt("Where is the Kelqora Hub?", passages[:n][::-1])
    assert build_prompt(tokenizer, "Q?", [], max_tokens=512) == (format_prompt("Q?"), 0)
    with pytest.raises(ValueError, match="question alone"):
        build_prompt(tokenizer, "Where is the Kelqora Hub?", passages, max_tokens=20, reserve=16)
    with pytest.raises(ValueError, match="not one string"):
        build_prompt(tokenizer, "Q?", "one passage")


@pytest.mark.slow
def test_question_log_likelihood_is_the_sum_over_question_tokens(tokenizer):
    from ftrag.lm import load_model
    from ftrag.retrieval.rag import question_log_likelihood

    model, tok = load_model("course-lm", device="cpu")
    question, passages = "Where was Anna Berg born?", ["Anna Berg was born in Lindholm.", "Tom Reed likes tea."]
    got = question_log_likelihood(model, tok, question, passages)
    for passage, score in zip(passages, got, strict=True):  # one unpadded forward pass per passage, by hand
        prefix = tok(f"Passage: {passage}\nQuestion:")["input_ids"]
        q_ids = tok(" " + question, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prefix + q_ids])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].float(), -1)
        want = sum(logp[len(prefix) - 1 + j, t].item() for j, t in enumerate(q_ids))
        assert math.isclose(score, want, rel_tol=1e-4, abs_tol=1e-3)
    chunks = [Chunk(f"c{i}", f"c{i}", "", "", p, 0, 1) for i, p in enumerate(passages)]
    order = rerank(model, tok, [question], np.array([[1, 0]]), chunks, top=2)
    assert order[0].tolist() == sorted([0, 1], key=lambda i: -got[i])
    with pytest.raises(ValueError, match="larger than"):
        rerank(model, tok, [question], np.array([[1, 0]]), chunks, top=3)


# ----------------------------------------------------------------------------------------------------------
# The lab's checks accept right answers and reject typical mistakes


def test_lab_checks_reject_typical_mistakes():
    from ftrag.check import CheckFailed
    from ftrag.check.l04 import check_recall_and_mrr, check_rrf

    def right(rankings, gold, k):
        return recall_at_k(rankings, gold, k), mrr_at_k(rankings, gold, k)

    def rank_from_zero(rankings, gold, k):  # MRR with 1 / (index + 2): an off-by-one
        mrr = np.mean([1 / (r[:k].index(g) + 2) if g in r[:k] else 0 for r, g in zip(rankings, gold, strict=True)])
        return recall_at_k(rankings, gold, k), mrr

    def rrf_right(rankings, k=60):
        return [i for i, _ in reciprocal_rank_fusion(rankings, k)]

    def rrf_rank_from_zero(rankings, k=60):
        scores = {}
        for r in rankings:
            for rank, item in enumerate(r):
                scores[item] = scores.get(item, 0) + 1 / (k + rank + 1e-9)
        return sorted(scores, key=scores.get, reverse=True)

    check_recall_and_mrr(right)
    check_rrf(rrf_right)
    with pytest.raises(CheckFailed, match="MRR"):
        check_recall_and_mrr(rank_from_zero)
    with pytest.raises(CheckFailed):
        check_rrf(lambda rankings, k=60: [i for r in rankings for i in r])  # concatenation is not fusion
    with pytest.raises(CheckFailed, match="k \\+ rank|should come before"):
        check_rrf(rrf_rank_from_zero)
