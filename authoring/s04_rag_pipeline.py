# notebook: solutions/04_rag_pipeline.ipynb
# %% [markdown]
# # Lab 04 · Building a RAG pipeline
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/04_rag_pipeline.ipynb)
#
# Four exercises on the parts of lesson 04 that a RAG pipeline is built from. Fill in each blank (a function body
# that raises `NotImplementedError`), run the cell, then run the check below it.
#
# **Time:** about 40 minutes.
# **Prerequisites:** lesson [04 · Building a RAG pipeline](../notebooks/04_rag_pipeline.ipynb).

# %% colab-install

# %%
from ftrag.files import read_jsonl
from ftrag.lm import format_prompt, generate, load_model
from ftrag.retrieval import BM25Retriever, chunk_documents

model, tokenizer = load_model("course-lm", device="cpu")
docs, qa = read_jsonl("knowledge", "docs.jsonl"), read_jsonl("knowledge", "qa.jsonl")

# %% [markdown]
# ## Exercise 1: recall@k and MRR@k
#
# `rankings` holds, for each query, a list of document ids, best first; `gold` holds each query's one correct id.
# Return `(recall, mrr)`: recall@k is the share of queries whose gold id is among the first `k`; MRR@k is the mean
# of `1 / rank` of the gold id (rank counted from 1), with 0 for a query whose gold id is not in the first `k`.

# %%
def recall_and_mrr(rankings: list[list[str]], gold: list[str], k: int) -> tuple[float, float]:
    """recall@k and MRR@k of the rankings against one gold id per query."""
    ### BEGIN SOLUTION
    hits, reciprocal = 0, 0.0
    for ranking, g in zip(rankings, gold, strict=True):
        top = list(ranking)[:k]
        if g in top:
            hits += 1
            reciprocal += 1 / (top.index(g) + 1)
    return hits / len(gold), reciprocal / len(gold)
    ### END SOLUTION


# %%
from ftrag.check.l04 import check_recall_and_mrr

check_recall_and_mrr(recall_and_mrr)

# %% [markdown]
# ## Exercise 2: reciprocal rank fusion
#
# Fuse several rankings of one query: every item scores `sum(1 / (k + rank))` over the rankings that contain it
# (rank counted from 1). Return all items, highest fused score first. With `k = 60` (the usual value) an item that
# two retrievers both rank well beats one that a single retriever ranks first.

# %%
def rrf(rankings: list[list], k: int = 60) -> list:
    """The items of all rankings, ordered by their reciprocal-rank-fusion score, best first."""
    ### BEGIN SOLUTION
    scores: dict = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1 / (k + rank)
    return sorted(scores, key=lambda item: -scores[item])
    ### END SOLUTION


# %%
from ftrag.check.l04 import check_rrf

check_rrf(rrf)

# %% [markdown]
# ## Exercise 3: a prompt assembler with a token budget
#
# The reader's context is limited (the course model: 512 tokens), and room must be left for the answer. Write
# `assemble_prompt(tokenizer, question, passages, max_tokens, reserve)`: take the passages in order (best first),
# keep adding them while `format_prompt(question, kept)` still fits in `max_tokens - reserve` tokens (count with
# `tokenizer(prompt)["input_ids"]`), stop at the first one that does not fit, and return the prompt.

# %%
def assemble_prompt(tokenizer, question: str, passages: list[str], max_tokens: int, reserve: int) -> str:
    """format_prompt(question, the longest prefix of passages that fits in max_tokens - reserve tokens)."""
    ### BEGIN SOLUTION
    kept: list[str] = []
    for passage in passages:
        candidate = format_prompt(question, [*kept, passage])
        if len(tokenizer(candidate)["input_ids"]) > max_tokens - reserve:
            break
        kept.append(passage)
    return format_prompt(question, kept)
    ### END SOLUTION


# %%
from ftrag.check.l04 import check_assemble_prompt

check_assemble_prompt(assemble_prompt)

# %% [markdown]
# ## Exercise 4: a pipeline that ignores its retriever
#
# A colleague's RAG pipeline answers World B questions no better than the model without retrieval. Here it is:
#
# ```python
# def rag_answer(question, retriever, model, tokenizer):
#     ids, scores = retriever.search([question], 1)
#     passages = [retriever.chunks[i].doc_id for i in ids[0]]
#     prompt = format_prompt(question)
#     return generate(model, tokenizer, [prompt])[0]
# ```
#
# Find what is wrong (print the prompt!) and write `fixed_rag_answer`: search, take the **texts** of the top-1
# chunk, put them in the prompt with `format_prompt(question, passages)`, and generate one greedy answer.

# %%
def fixed_rag_answer(question: str, retriever, model, tokenizer) -> str:
    """The answer of the course model, reading the retriever's top chunk."""
    ### BEGIN SOLUTION
    ids, _ = retriever.search([question], 1)
    passages = [retriever.chunks[int(i)].text for i in ids[0]]
    return generate(model, tokenizer, [format_prompt(question, passages)])[0]
    ### END SOLUTION


# %%
from ftrag.check.l04 import check_fixed_rag_answer

check_fixed_rag_answer(fixed_rag_answer)

# %% [markdown]
# Two bugs, one symptom: the passages were ids, not texts, and they never reached the prompt anyway. When a RAG
# system answers like a closed-book model, print the prompt first. Your fixed pipeline on a few questions:

# %%
retriever = BM25Retriever(chunk_documents(docs))
for row in qa[:4]:
    print(f"{row['question']!r} -> {fixed_rag_answer(row['question'], retriever, model, tokenizer)!r} "
          f"(gold {row['answer']!r})")
