"""Checks for the lab of lesson 04 (building a RAG pipeline)."""

from __future__ import annotations

import random

from ftrag.check import call_solution, expect, expect_close, expect_equal, fail, passed
from ftrag.files import read_jsonl
from ftrag.lm import exact_match, format_prompt, generate, load_model
from ftrag.retrieval import BM25Retriever, chunk_documents, emphasize_names
from ftrag.retrieval.rag import build_prompt, mrr_at_k, recall_at_k

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
