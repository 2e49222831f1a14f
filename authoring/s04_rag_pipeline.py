# notebook: solutions/04_rag_pipeline.ipynb
# %% [markdown]
# # Lab 04 · Building a RAG pipeline
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/04_rag_pipeline.ipynb)
#
# Six exercises on the parts of lesson 04 that a RAG pipeline is built from; the last two are experiments whose
# outcome you measure and decide on. Fill in each blank (a function body that raises `NotImplementedError`, or a
# value left as `None`), run the cell, then run the check below it.
#
# **Time:** about 21 minutes.
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

# %% [markdown]
# ## Exercise 5: which retriever for which users? (an experiment)
#
# Lesson 04's section 8 asked questions that describe their subject or misspell its name
# (`data/knowledge/hard_qa.jsonl`). Here you measure something the lesson did not: whether lesson 04's query
# rewrite `emphasize_names` (repeat the capitalised names and codes) helps or hurts on these questions, for BM25 and
# for dense retrieval. First write `recall_at_1_by_kind(retriever, questions, kinds)`: for each kind, the share of
# that kind's questions whose gold document (`q["doc_id"]`) is the document of the retriever's top chunk
# (`retriever.chunks[i].doc_id`).

# %%
from ftrag.retrieval import DenseRetriever, emphasize_names, load_embedder

measured: dict = {}  # the experiment below fills it: {setting: {kind: recall@1}}


def recall_at_1_by_kind(retriever, questions: list[dict], kinds) -> dict[str, float]:
    """{kind: recall@1 of the retriever on the questions of that kind}."""
    ### BEGIN SOLUTION
    out = {}
    for kind in kinds:
        rows = [q for q in questions if q["kind"] == kind]
        ids, _ = retriever.search([q["question"] for q in rows], 1)
        top = [retriever.chunks[int(row[0])].doc_id for row in ids]
        out[kind] = sum(t == q["doc_id"] for t, q in zip(top, rows, strict=True)) / len(rows)
    return out
    ### END SOLUTION


# %%
from ftrag.check.l04 import check_recall_at_1_by_kind

check_recall_at_1_by_kind(recall_at_1_by_kind)

# %% [markdown]
# Now the experiment: four settings (two retrievers, with and without the rewrite) on the two kinds of question.
# Before you run it, write down what you expect for each kind.

# %%
hard = read_jsonl("knowledge", "hard_qa.jsonl")
chunks = chunk_documents(docs)
embedder = load_embedder()
settings = {"bm25": BM25Retriever(chunks), "bm25 + rewrite": BM25Retriever(chunks, query_fn=emphasize_names),
            "dense": DenseRetriever(chunks, embedder),
            "dense + rewrite": DenseRetriever(chunks, embedder, query_fn=emphasize_names)}
kinds = ("described", "misspelled")
measured = {name: recall_at_1_by_kind(r, hard, kinds) for name, r in settings.items()}
for name, recalls in measured.items():
    print(f"{name:>16}: " + ", ".join(f"{kind} {value:.3f}" for kind, value in recalls.items()))

# %% [markdown]
# Which setting would you deploy for users who describe what they want, and which for users who misspell names?
# Set `best_setting` from your numbers: a dict with a setting's name for each kind, e.g. `{"described": "...",
# "misspelled": "..."}`.

# %%
best_setting = {kind: max(measured, key=lambda name: measured[name][kind]) for kind in kinds}  # SOLUTION
print(best_setting)

# %%
from ftrag.check.l04 import check_best_setting

check_best_setting(best_setting, measured)

# %% [markdown]
# **Reflect:** did the rewrite do what you expected on each kind? What does it repeat in a described question, and
# in a misspelled one? Would you trust a choice made on 164 questions of each kind, and what would you measure
# before deploying it for your own users?
#
# ## Exercise 6: how many passages for a described question? (an experiment)
#
# On described questions BM25 puts the gold document first less often than on named ones, but usually within its
# top few. More passages raise the chance that the answer is in the prompt; lesson 04 showed that they also make
# this reader worse at reading. Which wins here? Write `em_with_k(retriever, questions, k, model, tokenizer)`: the
# exact match of the answers when the reader gets each question's top `k` passages
# (`rag.retrieve_passages`, then `rag.answer_with_passages`, then `exact_match`).

# %%
from ftrag.lm import exact_match
from ftrag.retrieval import rag

sweep: dict = {}  # the sweep below fills it: {k: exact match}


def em_with_k(retriever, questions: list[dict], k: int, model, tokenizer) -> float:
    """Exact match of the reader given each question's top-k passages."""
    ### BEGIN SOLUTION
    texts = [q["question"] for q in questions]
    passages = rag.retrieve_passages(retriever, texts, k)
    return exact_match(rag.answer_with_passages(model, tokenizer, texts, passages), [q["answer"] for q in questions])
    ### END SOLUTION


# %%
from ftrag.check.l04 import check_em_with_k

check_em_with_k(em_with_k)

# %% [markdown]
# The sweep, on 80 described questions (about a second per setting):

# %%
described = [q for q in hard if q["kind"] == "described"][:80]
sweep = {k: em_with_k(settings["bm25"], described, k, model, tokenizer) for k in (1, 2, 3, 5)}
print({k: round(v, 3) for k, v in sweep.items()})

# %% [markdown]
# Set `best_k` to the number of passages you would deploy, from the numbers above.

# %%
best_k = max(sweep, key=sweep.get)  # SOLUTION

# %%
from ftrag.check.l04 import check_best_k

check_best_k(best_k, sweep)

# %% [markdown]
# **Reflect:** is the best k here the same as on the named questions of lesson 04's section 9? What would change it:
# a better retriever, a reader that reads long contexts well, or questions of another kind?
