"""Checks for the lab of lesson 04 (building a RAG pipeline)."""

from __future__ import annotations

import random

import numpy as np

from ftrag.check import call_solution, expect, expect_close, expect_equal, fail, passed
from ftrag.files import read_jsonl
from ftrag.lm import exact_match, format_prompt, generate, load_model
from ftrag.retrieval import BM25Retriever, chunk_documents, emphasize_names
from ftrag.retrieval.rag import answer_with_passages, build_prompt, mrr_at_k, recall_at_k, retrieve_passages

_RANKINGS = [["a", "b", "c"], ["c", "a", "b"], ["x", "y", "z"], ["b", "a"], ["d", "e", "f", "a"]]
_GOLD = ["a", "a", "b", "a", "a"]


def _random_case(seed: int) -> tuple[list[list[str]], list[str]]:
    rng = random.Random(seed)
    docs = [f"doc{i}" for i in range(12)]
    rankings = [rng.sample(docs, rng.randint(1, 10)) for _ in range(40)]
    return rankings, [rng.choice(docs) for _ in rankings]


def check_recall_and_mrr(recall_and_mrr) -> None:
    """Exercise 1: recall@k and MRR@k against one gold document per query."""

    got = call_solution(recall_and_mrr, _RANKINGS, _GOLD, 1, name="recall_and_mrr")
    expect(isinstance(got, tuple) and len(got) == 2,
           f"recall_and_mrr should return a tuple (recall, mrr), got {type(got).__name__} {got!r}")
    expect_close(got[0], 1 / 5, "recall@1 on the example (only query 0 has its gold id first)",
                 hint="count the queries whose gold id is in ranking[:k], divide by the number of queries")
    expect_close(got[1], 1 / 5, "MRR@1 on the example", hint="with k=1 only a gold id at rank 1 scores (1/1)")
    recall3, mrr3 = call_solution(recall_and_mrr, _RANKINGS, _GOLD, 3, name="recall_and_mrr")
    expect_close(recall3, 3 / 5, "recall@3 on the example")
    expect_close(mrr3, (1 + 1 / 2 + 0 + 1 / 2 + 0) / 5, "MRR@3 on the example",
                 hint="a gold id at rank r (counting from 1) scores 1/r; one outside the first k scores 0 "
                      "(query 2's gold 'b' is not in its ranking, and query 4's 'a' is 4th)")
    for seed in range(3):
        rankings, gold = _random_case(seed)
        for k in (1, 5, 10):
            recall, mrr = call_solution(recall_and_mrr, rankings, gold, k, name="recall_and_mrr")
            expect_close(recall, recall_at_k(rankings, gold, k), f"recall@{k} on random rankings (seed {seed})")
            expect_close(mrr, mrr_at_k(rankings, gold, k), f"MRR@{k} on random rankings (seed {seed})")
    passed("recall@k and MRR@k agree with the course's implementation (itself tested against ranx)")


def check_rrf(rrf) -> None:
    """Exercise 2: reciprocal rank fusion."""
    got = call_solution(rrf, [["A", "B", "C"], ["C", "A", "D"]], 60, name="rrf")
    expect(isinstance(got, list), f"rrf should return a list of ids, best first, got {type(got).__name__}")
    expect_equal(got, ["A", "C", "B", "D"], "rrf([['A', 'B', 'C'], ['C', 'A', 'D']], k=60)",
                 hint="score(item) = sum over the rankings that contain it of 1 / (k + rank), rank counted from 1; "
                      "then sort by score, highest first")
    expect_equal(call_solution(rrf, [["x", "y"]], 60, name="rrf"), ["x", "y"], "rrf of a single ranking",
                 hint="one ranking fused with nothing keeps its order")
    for seed in range(5):  # random rankings: every item once, fused scores never increasing
        rng = random.Random(seed)
        rankings = [rng.sample(range(20), rng.randint(3, 12)) for _ in range(3)]
        k = rng.choice([0, 1, 60])
        got = call_solution(rrf, rankings, k, name="rrf")
        items = {i for r in rankings for i in r}
        expect(sorted(got) == sorted(items), f"rrf should return every item of the rankings exactly once; for "
               f"{rankings} it returned {got}")
        score = {i: sum(1 / (k + r.index(i) + 1) for r in rankings if i in r) for i in items}
        for a, b in zip(got, got[1:], strict=False):
            if score[a] < score[b] - 1e-12:
                fail(f"with k={k}, item {b!r} (fused score {score[b]:.4f}) should come before {a!r} "
                     f"({score[a]:.4f}); check the k + rank denominator (rank starts at 1)")
    passed("reciprocal rank fusion ranks items by the sum of 1 / (k + rank)")


def check_assemble_prompt(assemble_prompt) -> None:
    """Exercise 3: a prompt assembler that respects a token budget."""

    _, tok = load_model("course-lm", device="cpu")
    passages = [f"The Kelqora Hub number {i} is kept on floor {i} of the Yolvesk site." for i in range(12)]
    question = "Where is the Kelqora Hub kept?"
    for max_tokens in (512, 200, 120, 60):
        got = call_solution(assemble_prompt, tok, question, passages, max_tokens, 16, name="assemble_prompt")
        want, n = build_prompt(tok, question, passages, max_tokens=max_tokens, reserve=16)
        expect(isinstance(got, str), f"assemble_prompt should return the prompt (a str), got {type(got).__name__}")
        length = len(tok(got)["input_ids"])
        expect(length <= max_tokens - 16, f"with max_tokens={max_tokens} and reserve=16 your prompt has {length} "
               f"tokens: keep it within max_tokens - reserve = {max_tokens - 16} (count with tokenizer(prompt))")
        expect_equal(got, want, f"the prompt for max_tokens={max_tokens} (the best {n} passages fit)",
                     hint="use format_prompt(question, kept); add passages in order while the prompt still fits, "
                          "and stop at the first one that does not")
    expect_equal(call_solution(assemble_prompt, tok, question, [], 512, 16, name="assemble_prompt"),
                 format_prompt(question), "the prompt with no passages")
    passed("the assembler fits as many passages as the budget allows, best first")


def check_fixed_rag_answer(fixed_rag_answer) -> None:
    """Exercise 4: the broken pipeline, fixed (the retrieved passages must reach the prompt)."""

    model, tok = load_model("course-lm", device="cpu")
    retriever = BM25Retriever(chunk_documents(read_jsonl("knowledge", "docs.jsonl")), query_fn=emphasize_names)
    qa = read_jsonl("knowledge", "qa.jsonl")[::150][:8]
    got = [call_solution(fixed_rag_answer, q["question"], retriever, model, tok, name="fixed_rag_answer") for q in qa]
    expect(all(isinstance(a, str) for a in got), f"fixed_rag_answer should return the answer string, got {got[:2]!r}")
    # One prompt at a time, as the pipeline answers: batching pads prompts, which may change a greedy answer.
    closed = [generate(model, tok, [format_prompt(q["question"])])[0] for q in qa]
    if got == closed:
        fail("your answers are exactly the closed-book answers: the retrieved passages still do not reach the "
             "prompt. Print the prompt, then pass the passages' texts to format_prompt(question, passages).")
    ids, _ = retriever.search([q["question"] for q in qa], 1)
    want = [generate(model, tok, [format_prompt(q["question"], [retriever.chunks[i[0]].text])])[0]
            for q, i in zip(qa, ids, strict=True)]
    expect_equal(got, want, "the answers of the fixed pipeline (top 1 passage, greedy)",
                 hint="search with k = 1, take the top chunk's text, build format_prompt(question, [text]), "
                      "generate")
    answers = [q["answer"] for q in qa]
    passed(f"the retrieved passage now reaches the prompt: exact match {exact_match(got, answers):.2f} on "
           f"{len(qa)} questions (closed-book {exact_match(closed, answers):.2f})")


class _FixedRetriever:
    """A retriever whose rankings are given: each query's chunk ids, best first (to test a recall function)."""

    def __init__(self, chunks, rankings: dict[str, list[int]]):
        self.chunks, self.rankings = chunks, rankings

    def search(self, queries, k):
        ids = np.array([self.rankings[q][:k] for q in queries])
        return ids, np.zeros(ids.shape, dtype=np.float32)


def check_recall_at_1_by_kind(recall_at_1_by_kind) -> None:
    """Exercise 5: recall@1 of a retriever, split by the kind of question."""
    chunks = chunk_documents(read_jsonl("knowledge", "docs.jsonl")[:6])
    ids = [c.doc_id for c in chunks]
    questions = [{"question": f"q{i}", "doc_id": ids[i % 6], "kind": kind}
                 for i, kind in enumerate(["a", "a", "a", "a", "b", "b"])]
    rankings = {"q0": [0, 1], "q1": [2, 1], "q2": [1, 2], "q3": [3, 0], "q4": [4, 5], "q5": [0, 5]}
    got = call_solution(recall_at_1_by_kind, _FixedRetriever(chunks, rankings), questions, ("a", "b"),
                        name="recall_at_1_by_kind")
    expect(isinstance(got, dict) and set(got) == {"a", "b"},
           f"recall_at_1_by_kind should return a dict with one recall per kind ('a' and 'b' here), got {got!r}")
    expect_close(got["a"], 2 / 4, "recall@1 of kind 'a' (queries q0 and q3 rank their gold document first)",
                 hint="for each question, compare the doc_id of the top chunk, retriever.chunks[ids[0]].doc_id, "
                      "with the question's doc_id; divide by the number of questions of that kind")
    expect_close(got["b"], 1 / 2, "recall@1 of kind 'b'", hint="count only the questions of that kind")
    hard = read_jsonl("knowledge", "hard_qa.jsonl")
    bm25 = BM25Retriever(chunk_documents(read_jsonl("knowledge", "docs.jsonl")))
    got = call_solution(recall_at_1_by_kind, bm25, hard, ("misspelled",), name="recall_at_1_by_kind")
    rows = [q for q in hard if q["kind"] == "misspelled"]
    top = [bm25.chunks[int(i[0])].doc_id for i in bm25.search([q["question"] for q in rows], 1)[0]]
    expect_close(got["misspelled"], recall_at_k([[t] for t in top], [q["doc_id"] for q in rows], 1),
                 "BM25's recall@1 on the misspelled questions")
    passed("recall@1 by kind agrees with the course's recall_at_k")


def check_best_setting(best_setting: dict, measured: dict) -> None:
    """Exercise 5, the decision: for each kind, a setting whose measured recall is the highest."""
    expect(bool(measured), "`measured` is empty: run the experiment cell above first")
    expect(isinstance(best_setting, dict) and best_setting and None not in best_setting.values(),
           f"fill best_setting with one setting name per kind of question, got {best_setting!r}")
    kinds = {kind for recalls in measured.values() for kind in recalls}
    expect(set(best_setting) == kinds, f"best_setting should name a setting for each kind {sorted(kinds)}, "
           f"got keys {sorted(best_setting)}")
    for kind, setting in best_setting.items():
        expect(setting in measured, f"{setting!r} is not one of the settings you measured: {sorted(measured)}")
        top = max(recalls[kind] for recalls in measured.values())
        expect(measured[setting][kind] == top, f"for {kind} questions you chose {setting!r} (recall@1 "
               f"{measured[setting][kind]:.3f}), but {max(measured, key=lambda s: measured[s][kind])!r} measured "
               f"{top:.3f}: let the numbers decide")
    passed("each choice is the setting that measured best for that kind of question")


def check_em_with_k(em_with_k) -> None:
    """Exercise 6: end-to-end exact match when the reader gets the top k passages."""
    model, tok = load_model("course-lm", device="cpu")
    bm25 = BM25Retriever(chunk_documents(read_jsonl("knowledge", "docs.jsonl")))
    rows = [q for q in read_jsonl("knowledge", "hard_qa.jsonl") if q["kind"] == "described"][::20]
    for k in (1, 3):
        got = call_solution(em_with_k, bm25, rows, k, model, tok, name="em_with_k")
        passages = retrieve_passages(bm25, [q["question"] for q in rows], k)
        want = exact_match(answer_with_passages(model, tok, [q["question"] for q in rows], passages),
                           [q["answer"] for q in rows])
        # within one answer: a pipeline that pads its prompts differently may flip one greedy answer
        expect_close(got, want, f"exact match with the top {k} passages on {len(rows)} described questions",
                     tol=1 / len(rows) + 1e-9,
                     hint="retrieve_passages(retriever, questions, k), then answer_with_passages(model, tokenizer, "
                          "questions, passages), then exact_match against the answers")
    passed("end-to-end exact match with k passages agrees with the course's pipeline")


def check_best_k(best_k, sweep: dict) -> None:
    """Exercise 6, the decision: the number of passages whose exact match measured highest."""
    expect(bool(sweep), "`sweep` is empty: run the sweep cell above first")
    expect(best_k in sweep, f"best_k should be one of the k you measured, {sorted(sweep)}; got {best_k!r}")
    top = max(sweep.values())
    expect(sweep[best_k] == top, f"k = {best_k} measured {sweep[best_k]:.3f}, but k = {max(sweep, key=sweep.get)} "
           f"measured {top:.3f}: let the numbers decide")
    passed(f"k = {best_k} is the number of passages that read best here")
