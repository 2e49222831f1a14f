"""What the method measures on your documents: retrieval against the gold files, the reader's answers four ways,
and what each approach costs.

Retrieval (``retrieval_runs``): the documents are cut into sentence chunks of at most ``chunk_tokens`` of the
reader's tokenizer and indexed by BM25, dense (the shipped MiniLM) and their hybrid (reciprocal rank fusion); a
question's ranking is the documents of its ranked chunks, each once, scored against its gold file (recall@k, MRR).

Reading (``reading_runs``), with the same reader and answer budget in every arm: closed-book (the question alone),
RAG (the hybrid retriever's top ``k`` chunks), the oracle (the chunk of the gold file that holds the answer:
perfect retrieval) and, when the whole corpus fits the reader's window, the whole corpus. An instruct model answers
in sentences, so a reply counts when it **contains** the answer's words (``contains_answer``); token F1 and strict
exact match are beside it.

Costs (``lora_cost``): a few LoRA steps of continued pretraining on the corpus, timed, give the tokens per second
that project the time of one pass over it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ftrag import retrieval, stats
from ftrag.lm import contains_answer, exact_match, generate, prompt_for, token_f1
from ftrag.lm.generation import prompt_ids
from ftrag.retrieval import rag
from ftrag.train import TrainConfig, lm_examples, lora_model, train
from ftrag.yourdocs.questions import contains, words

KS = (1, 3, 5, 10)
READ_BATCH = 8  # prompts the reader answers at once (one tick of the progress bar)


@dataclass
class Settings:
    """What one run of the method uses (the command's flags)."""

    k: int = 1  # chunks the RAG reader gets (a 135M reader reads one best: 3 diluted it, see docs/your_documents.md)
    chunk_tokens: int = 128  # the longest chunk, in the reader's tokens (a longer sentence stays whole)
    answer_tokens: int = 24  # new tokens per answer: room for a sentence
    lora_steps: int = 4  # timed LoRA steps of continued pretraining
    lora_batch: int = 1  # blocks per step (2 raised the notebook's peak memory past 3 GB: 2.96 GB vs 2.30)
    block_tokens: int = 256  # tokens per block
    seed: int = 0


def index_corpus(docs: Sequence[dict], tokenizer, settings: Settings) -> dict:
    """Chunk and index: the chunks, the three retrievers and the seconds each took (the embedding is most of it)."""
    start = time.perf_counter()
    chunks = retrieval.chunk_sentences(docs, tokenizer, max_tokens=settings.chunk_tokens)
    chunk_seconds = time.perf_counter() - start
    start = time.perf_counter()
    bm25 = retrieval.BM25Retriever(chunks)
    bm25_seconds = time.perf_counter() - start
    embedder = retrieval.load_embedder()
    start = time.perf_counter()
    dense = retrieval.DenseRetriever(chunks, embedder)
    dense_seconds = time.perf_counter() - start
    lengths = [len(tokenizer(c.text, add_special_tokens=False)["input_ids"]) for c in chunks]
    return {"chunks": chunks, "retrievers": {"BM25": bm25, "dense": dense,
                                             "hybrid": retrieval.HybridRetriever([dense, bm25])},
            "seconds": {"chunking": chunk_seconds, "BM25 index": bm25_seconds, "dense index": dense_seconds},
            "chunk_tokens": {"mean": float(np.mean(lengths)), "max": int(max(lengths)), "n": len(chunks)}}


def retrieval_runs(index: dict, questions: Sequence[dict]) -> dict:
    """Each retriever's recall@k (k in KS, capped at the number of documents) and MRR@10 against the gold files,
    with each question's rank of its gold file (None: not in the top 10)."""
    texts, gold = [q["question"] for q in questions], [q["file"] for q in questions]
    n_docs = len({c.doc_id for c in index["chunks"]})
    ks = [k for k in KS if k <= n_docs] or [n_docs]
    depth = min(len(index["chunks"]), 50)  # chunks asked for, so that ten different documents come back
    out = {}
    for name, retriever in index["retrievers"].items():
        start = time.perf_counter()
        ids, _ = retriever.search(texts, depth)
        seconds = time.perf_counter() - start
        rankings = rag.doc_rankings(ids, index["chunks"])
        metrics = rag.retrieval_metrics(rankings, gold, ks=ks, mrr_k=max(ks))
        ranks = [r.index(g) + 1 if g in r[:max(ks)] else None for r, g in zip(rankings, gold, strict=True)]
        out[name] = {**metrics, "ranks": ranks, "ms_per_query": 1000 * seconds / len(texts),
                     "top": [r[:3] for r in rankings]}
    return out


def oracle_passage(index: dict, question: dict) -> str:
    """The chunk of the gold file that holds the answer: of several, the one sharing most words with the question
    (a common answer, "None" or "TypeError", is in many chunks); two neighbouring chunks when it straddles them."""
    own = [c.text for c in index["chunks"] if c.doc_id == question["file"]]
    candidates = [t for t in own if contains(t, question["answer"])] or [
        f"{a} {b}" for a, b in zip(own, own[1:], strict=False) if contains(f"{a} {b}", question["answer"])]
    asked = {w for w in words(question["question"]).split() if len(w) > 3}
    return max(candidates or own[:1], key=lambda t: len(asked & set(words(t).split())))


def _score(predictions: Sequence[str], answers: Sequence[str]) -> dict:
    hits = "".join("1" if contains_answer([p], [a]) == 1.0 else "0" for p, a in zip(predictions, answers,
                                                                                     strict=True))
    return {"contains": contains_answer(predictions, answers), "token_f1": token_f1(predictions, answers),
            "strict_em": exact_match(predictions, answers), "hits": hits}


def corpus_tokens(docs: Sequence[dict], tokenizer) -> int:
    """The corpus's length in the reader's tokens (one document after another)."""
    return sum(len(tokenizer(d["text"], add_special_tokens=False)["input_ids"]) for d in docs)


def reading_runs(model, tokenizer, docs: Sequence[dict], index: dict, questions: Sequence[dict],
                 settings: Settings) -> dict:
    """Each arm's answers, scores (with each question's hit), prompt tokens and milliseconds per query."""
    texts, answers = [q["question"] for q in questions], [q["answer"] for q in questions]
    window = rag.context_length(model, tokenizer)
    passages = {"closed-book": [[] for _ in questions],
                f"RAG (hybrid, top {settings.k})": rag.retrieve_passages(index["retrievers"]["hybrid"], texts,
                                                                         settings.k),
                "oracle (the gold chunk)": [[oracle_passage(index, q)] for q in questions]}
    whole = corpus_tokens(docs, tokenizer)
    if whole + 200 + settings.answer_tokens <= window:
        passages["whole corpus in the context"] = [[d["text"] for d in docs] for _ in questions]
    out = {}
    for arm, lists in passages.items():
        prompts = [rag.build_prompt(tokenizer, q, p, max_tokens=window, reserve=settings.answer_tokens)[0]
                   if p else prompt_for(tokenizer, q) for q, p in zip(texts, lists, strict=True)]
        start = time.perf_counter()
        predictions = []
        for i in tqdm(range(0, len(prompts), READ_BATCH), desc=arm, unit="batch"):
            predictions += generate(model, tokenizer, prompts[i:i + READ_BATCH], max_new_tokens=settings.answer_tokens,
                                    batch_size=READ_BATCH)
        seconds = time.perf_counter() - start
        out[arm] = {**_score(predictions, answers), "predictions": predictions,
                    "prompt_tokens": float(np.mean([len(prompt_ids(tokenizer, p)) for p in prompts])),
                    "ms_per_query": 1000 * seconds / len(prompts)}
    return {"arms": out, "corpus_tokens": whole, "window": window}


def rag_gain(reading: dict) -> tuple[float, float, float]:
    """RAG's containment minus closed-book's, with its paired 95% interval over the questions."""
    arms = reading["arms"]
    rag_arm = next(a for a in arms if a.startswith("RAG"))
    return stats.paired_difference(arms[rag_arm]["hits"], arms["closed-book"]["hits"])


def lora_cost(model, tokenizer, docs: Sequence[dict], settings: Settings, corpus_tokens_: int) -> dict:
    """Time ``lora_steps`` steps of LoRA (r 8) continued pretraining on the corpus; project one full pass.

    The adapter is thrown away: this measures what teaching the corpus would cost, not what it would teach (that
    needs a long run and an evaluation; lesson 05 measures it on the course's facts)."""
    examples = lm_examples(tokenizer, [d["text"] for d in docs], block_size=settings.block_tokens)
    peft_model = lora_model(model, r=8, seed=settings.seed)
    config = TrainConfig(steps=settings.lora_steps, batch_size=settings.lora_batch, lr=1e-3, warmup_steps=0,
                         seed=settings.seed)
    try:
        result = train(peft_model, examples, config, pad_id=tokenizer.pad_token_id or 0)
    finally:
        peft_model.unload()  # the reader goes back to its own weights
    rate = result.tokens / result.seconds
    return {"steps": settings.lora_steps, "tokens": result.tokens, "seconds": result.seconds,
            "tokens_per_second": rate, "pass_hours": corpus_tokens_ / rate / 3600, "blocks": len(examples),
            "trainable": result.trainable, "threads": torch.get_num_threads()}
