"""RAG for lesson 04: measuring retrieval against gold documents, reranking, prompt assembly and answering.

The retrievers live in ``ftrag.retrieval`` and return chunk indices; the QA set's gold label is a document id,
so chunk hits are first mapped to the documents they came from (each document counted once, at its best rank).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ftrag.lm import continuation_nll, format_prompt, generate, pad_id_of, prompt_for
from ftrag.lm.generation import prompt_ids
from ftrag.retrieval import Chunk, check_k, check_queries

KINDS = ("lexical", "paraphrased")


# ----------------------------------------------------------------------------------------------------------
# Measuring retrieval


def _chunk_at(chunks: Sequence[Chunk], i) -> Chunk:
    """``chunks[i]``, refusing a negative index: faiss's -1 ("not found") must not read as the last chunk."""
    i = int(i)
    if not 0 <= i < len(chunks):
        hint = (": faiss returns -1 where an approximate index found fewer than k neighbours; raise its search "
                "effort (set_search_effort) or use the exact 'flat' index") if i == -1 else ""
        raise ValueError(f"chunk index {i} is out of range for {len(chunks)} chunks{hint}")
    return chunks[i]


def doc_ranking(chunk_ids: Sequence[int], chunks: Sequence[Chunk]) -> list[str]:
    """The documents of ranked chunks, best first, each once (where its best chunk ranked)."""
    seen: dict[str, None] = {}
    for i in chunk_ids:
        seen.setdefault(_chunk_at(chunks, i).doc_id, None)
    return list(seen)


def doc_rankings(ids: np.ndarray | Sequence[Sequence[int]], chunks: Sequence[Chunk]) -> list[list[str]]:
    """:func:`doc_ranking` for every query: (Q, depth) chunk ids -> Q lists of doc ids."""
    return [doc_ranking(row, chunks) for row in ids]


def _check_pairs(rankings: Sequence[Sequence[str]], gold: Sequence[str], k: int) -> None:
    if isinstance(gold, str) or isinstance(rankings, str):
        raise ValueError("rankings and gold must be lists (one entry per query), not one string")
    if len(rankings) != len(gold):
        raise ValueError(f"got {len(rankings)} rankings but {len(gold)} gold ids; pass one of each per query")
    if not gold:
        raise ValueError("no queries to measure: the lists are empty")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def recall_at_k(rankings: Sequence[Sequence[str]], gold: Sequence[str], k: int) -> float:
    """Share of queries whose gold document is among the first ``k`` of their ranking (one gold doc each)."""
    _check_pairs(rankings, gold, k)
    return float(np.mean([g in list(r)[:k] for r, g in zip(rankings, gold, strict=True)]))


def mrr_at_k(rankings: Sequence[Sequence[str]], gold: Sequence[str], k: int) -> float:
    """Mean reciprocal rank of the gold document, counting 0 when it is not in the first ``k``."""
    _check_pairs(rankings, gold, k)
    total = 0.0
    for r, g in zip(rankings, gold, strict=True):
        top = list(r)[:k]
        total += 1.0 / (top.index(g) + 1) if g in top else 0.0
    return total / len(gold)


def retrieval_metrics(rankings: Sequence[Sequence[str]], gold: Sequence[str], ks: Sequence[int] = (1, 3, 5, 10),
                      mrr_k: int = 10) -> dict[str, float]:
    """recall@k for each k, and MRR@mrr_k, in one dict."""
    out = {f"recall@{k}": recall_at_k(rankings, gold, k) for k in ks}
    out[f"MRR@{mrr_k}"] = mrr_at_k(rankings, gold, mrr_k)
    return out


def retrieval_table(runs: dict[str, Sequence[Sequence[str]]], qa: Sequence[dict], ks: Sequence[int] = (1, 3, 5, 10)):
    """A pandas table: one row per (retriever, question kind, including 'all'), one column per metric."""
    import pandas as pd

    rows = []
    for name, rankings in runs.items():
        if len(rankings) != len(qa):
            raise ValueError(f"run {name!r} ranks {len(rankings)} queries but the QA set has {len(qa)}")
        for kind in (*KINDS, "all"):
            sel = [i for i, q in enumerate(qa) if kind == "all" or q["kind"] == kind]
            metrics = retrieval_metrics([rankings[i] for i in sel], [qa[i]["doc_id"] for i in sel], ks)
            rows.append({"retriever": name, "kind": kind, **metrics})
    return pd.DataFrame(rows).set_index(["retriever", "kind"])


# ----------------------------------------------------------------------------------------------------------
# Reranking with the reader itself


def pair_log_likelihoods(model, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> list[float]:
    """log p(question | passage) under a causal LM for each (question, passage) pair, in the course's format."""
    if isinstance(pairs, (str, tuple)) or not pairs:
        raise ValueError("pairs must be a non-empty list of (question, passage) tuples")
    rows, starts = [], []  # the prompt up to "Question:", then the question's own tokens (the ones scored)
    for question, passage in pairs:
        prefix = tokenizer(format_prompt(question, [passage]).rsplit("\nQuestion:", 1)[0] + "\nQuestion:")["input_ids"]
        rows.append(prefix + tokenizer(" " + " ".join(question.split()), add_special_tokens=False)["input_ids"])
        starts.append(len(prefix))
    return [-nll for nll in continuation_nll(model, rows, starts, pad_id_of(tokenizer), batch_size)]


def question_log_likelihood(model, tokenizer, question: str, passages: Sequence[str]) -> list[float]:
    """log p(question | passage) for each passage: how well the passage "explains" the question."""
    if isinstance(passages, str) or not passages:
        raise ValueError("passages must be a non-empty list of strings")
    return pair_log_likelihoods(model, tokenizer, [(question, p) for p in passages])


def rerank(model, tokenizer, questions: Sequence[str], ids: np.ndarray, chunks: Sequence[Chunk],
           top: int = 10) -> np.ndarray:
    """Reorder each query's first ``top`` chunks by log p(question | chunk); (Q, top) chunk ids, best first."""
    questions = check_queries(questions)
    ids = np.asarray(ids)
    if ids.ndim != 2 or len(ids) != len(questions):
        raise ValueError(f"ids must be (Q, depth) with one row per question; got {ids.shape} for "
                         f"{len(questions)} questions")
    check_k(top, ids.shape[1])
    candidates = ids[:, :top]
    pairs = [(q, _chunk_at(chunks, i).text) for q, row in zip(questions, candidates, strict=True) for i in row]
    scores = np.asarray(pair_log_likelihoods(model, tokenizer, pairs)).reshape(len(questions), top)
    order = np.argsort(-scores, axis=1, kind="stable")  # ties keep the first stage's order
    return np.take_along_axis(candidates, order, axis=1).astype(np.int64)


# ----------------------------------------------------------------------------------------------------------
# Prompt assembly and answering


def context_length(model, tokenizer) -> int:
    """How many tokens the model can attend to (the course model: 512)."""
    n = getattr(model.config, "max_position_embeddings", None) or 0
    limit = getattr(tokenizer, "model_max_length", 0) or 0
    candidates = [x for x in (n, limit) if 0 < x < 10**7]  # tokenizers without a limit say ~1e30
    if not candidates:
        raise ValueError("cannot tell this model's context length; pass max_tokens explicitly")
    return min(candidates)


def build_prompt(tokenizer, question: str, passages: Sequence[str], *, max_tokens: int = 512,
                 reserve: int = 16, best_last: bool = False) -> tuple[str, int]:
    """The prompt with as many passages (taken best first) as fit in ``max_tokens - reserve``; and how many fit.

    The prompt is in the model's format (``prompt_for``: the course's lines, or an instruct model's chat turn).

    ``reserve`` keeps room for the answer. ``best_last`` puts the best passage next to the question instead of
    first. A passage that does not fit ends the list: a later, less relevant one is not squeezed in instead.
    """
    if isinstance(passages, str):
        raise ValueError("passages must be a list of strings, not one string; wrap it: [passage]")
    budget = max_tokens - reserve
    if reserve < 0 or budget < 1:
        raise ValueError(f"need reserve >= 0 and max_tokens > reserve, got max_tokens={max_tokens}, "
                         f"reserve={reserve}")

    def length(kept: list[str]) -> int:
        return len(prompt_ids(tokenizer, prompt_for(tokenizer, question, kept[::-1] if best_last else kept)))

    kept: list[str] = []
    if length(kept) > budget:
        raise ValueError(f"the question alone takes {length(kept)} tokens, more than the budget of {budget}")
    for passage in passages:
        if length([*kept, passage]) > budget:
            break
        kept.append(passage)
    return prompt_for(tokenizer, question, kept[::-1] if best_last else kept), len(kept)


def retrieve_passages(retriever, questions: Sequence[str], k: int, *, reranker: tuple | None = None,
                      depth: int = 10) -> list[list[str]]:
    """The texts of each question's top-``k`` chunks (reranked among the first ``depth`` if ``reranker``)."""
    if reranker is None:
        ids, _ = retriever.search(questions, k)
    else:
        check_k(k, depth)
        ids = rerank(*reranker, questions, retriever.search(questions, depth)[0], retriever.chunks, top=depth)
    return [[_chunk_at(retriever.chunks, i).text for i in row[:k]] for row in ids]


def answer_with_passages(model, tokenizer, questions: Sequence[str], passages_list: Sequence[Sequence[str]], *,
                         max_new_tokens: int = 16, best_last: bool = False, batch_size: int = 32) -> list[str]:
    """Greedy answers, each prompt holding as many of its passages as fit the model's context."""
    questions = check_queries(questions)
    if len(passages_list) != len(questions):
        raise ValueError(f"got {len(questions)} questions but {len(passages_list)} passage lists")
    limit = context_length(model, tokenizer)
    prompts = [build_prompt(tokenizer, q, p, max_tokens=limit, reserve=max_new_tokens, best_last=best_last)[0]
               for q, p in zip(questions, passages_list, strict=True)]
    return generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)


@dataclass
class RAG:
    """Retrieve, (optionally) rerank, assemble, generate: the whole pipeline behind one ``answer`` call."""

    retriever: object  # any retriever of ftrag.retrieval (DenseRetriever, BM25Retriever, HybridRetriever)
    model: object  # the reader: a causal LM
    tokenizer: object
    k: int = 1  # passages put in the prompt
    rerank: bool = False  # rerank the first `depth` chunks by log p(question | chunk) with the reader
    depth: int = 10  # candidates the reranker looks at
    max_new_tokens: int = 16  # room kept for the answer

    def passages(self, questions: Sequence[str]) -> list[list[str]]:
        reranker = (self.model, self.tokenizer) if self.rerank else None
        return retrieve_passages(self.retriever, questions, self.k, reranker=reranker, depth=self.depth)

    def answer(self, questions: Sequence[str]) -> list[str]:
        return answer_with_passages(self.model, self.tokenizer, questions, self.passages(questions),
                                    max_new_tokens=self.max_new_tokens)

    def ask(self, question: str) -> tuple[str, list[str]]:
        """One question: the answer and the passages it was read from."""
        passages = self.passages([question])
        return answer_with_passages(self.model, self.tokenizer, [question], passages,
                                    max_new_tokens=self.max_new_tokens)[0], passages[0]
