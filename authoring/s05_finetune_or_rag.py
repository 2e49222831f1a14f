# notebook: solutions/05_finetune_or_rag.ipynb
# %% [markdown]
# # Lab 05 · Fine-tune or RAG? Building the measurements yourself
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/05_finetune_or_rag.ipynb)
#
# Four exercises on the measurements of lesson 05. Fill in each blank (a function body that raises
# `NotImplementedError`), run the cell, then run the check below it.
#
# **Time:** about 45 minutes.
# **Prerequisites:** lesson [05 · Fine-tune or RAG?](../notebooks/05_finetune_or_rag.ipynb).

# %% colab-install

# %%
import json

from ftrag.lm import load_model
from ftrag.paths import repo_root
from ftrag.tasks import injection

model, tokenizer = load_model("course-lm", device="cpu")
facts = injection.fact_set(seed=0)
sweep = json.loads((repo_root() / "results" / "05_injection.json").read_text())

# %% [markdown]
# ## Exercise 1: the multiple-choice scorer
#
# Ovadia et al. score knowledge by log-likelihood. Write `option_score(model, tokenizer, prompt, option)`: the
# summed log-probability of the option's tokens and the EOS after them, given the prompt. Build one row of ids:
# `tokenizer(prompt)["input_ids"]` (it starts with BOS), then `tokenizer(" " + option, add_special_tokens=False)`'s
# ids, then `tokenizer.eos_token_id`; run the model once; add up `log_softmax` of the logits at the positions that
# predict the option's tokens and the EOS (logits at position `i` predict the token at `i + 1`). Then
# `pick(model, tokenizer, prompt, options)` returns the option with the highest score.

# %%
import torch


def option_score(model, tokenizer, prompt: str, option: str) -> float:
    """log p(" " + option + EOS | prompt), summed over the option's tokens and the EOS."""
    ### BEGIN SOLUTION
    prefix = tokenizer(prompt)["input_ids"]
    rest = tokenizer(" " + option, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = torch.tensor([prefix + rest])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
    positions = torch.arange(len(prefix) - 1, len(prefix) + len(rest) - 1)
    return logprobs[positions, torch.tensor(rest)].sum().item()
    ### END SOLUTION


def pick(model, tokenizer, prompt: str, options: list[str]) -> str:
    """The option the model finds most likely after the prompt."""
    ### BEGIN SOLUTION
    return max(options, key=lambda o: option_score(model, tokenizer, prompt, o))
    ### END SOLUTION


# %%
from ftrag.check.l05 import check_option_score

check_option_score(option_score, pick)

# %% [markdown]
# ## Exercise 2: RAFT-style training prompts
#
# A RAFT example shows a question with its gold document among distractor documents, and sometimes without the
# gold document at all (the answer stays the true one). Write `raft_prompt(question, gold, distractors, n,
# position, include_gold)`: take the first `n` distractors; if `include_gold`, insert the gold document at index
# `position` of that list (0: first); if the list is then empty (no gold, `n` = 0), use the first distractor alone.
# Return the prompt in the course's format, `format_prompt(question, passages)`.

# %%
from ftrag.lm import format_prompt


def raft_prompt(question: str, gold: str, distractors: list[str], n: int, position: int, include_gold: bool) -> str:
    """The course-format prompt: the first n distractors, the gold document at `position` if included."""
    ### BEGIN SOLUTION
    passages = list(distractors[:n])
    if include_gold:
        passages.insert(position, gold)
    if not passages:
        passages = [distractors[0]]
    return format_prompt(question, passages)
    ### END SOLUTION


# %%
from ftrag.check.l05 import check_raft_prompt

check_raft_prompt(raft_prompt)

# %% [markdown]
# ## Exercise 3: the training text for one k
#
# The paraphrase curve of lesson 05 used *mixed* training. Write `mixed_texts(facts, k)`: the first `k`
# renderings of every document of the fact set (train half first, then the evaluation half; in each, document by
# document; `injection.renderings(docs, k)` gives them in that order), followed by the train half's question/answer
# pairs as texts (`injection.qa_text(row)`). Then `passes(tokenizer, texts, budget)`: how many times each text is seen
# when `budget` tokens are trained on: budget divided by the texts' total tokens (`tokenizer(text)["input_ids"]`,
# minus the BOS each starts with, plus one EOS each). The arms share a budget of 300 x 8 x 256 tokens.

# %%
def mixed_texts(facts, k: int) -> list[str]:
    """k renderings of each document of the fact set, then the train half's QA pairs."""
    ### BEGIN SOLUTION
    return injection.renderings(facts.train_docs + facts.eval_docs, k) + [injection.qa_text(r) for r in facts.train_qa]
    ### END SOLUTION


def passes(tokenizer, texts: list[str], budget: int) -> float:
    """How many passes over the texts `budget` training tokens make."""
    ### BEGIN SOLUTION
    total = sum(len(tokenizer(t)["input_ids"]) - 1 + 1 for t in texts)
    return budget / total
    ### END SOLUTION


# %%
from ftrag.check.l05 import check_mixed_texts

check_mixed_texts(mixed_texts, passes)
budget = 300 * 8 * 256
for k in (1, 2, 5, 10):
    row = sweep["rows"][f"mixed, k={k}"]
    print(f"k = {k:>2}: {passes(tokenizer, mixed_texts(facts, k), budget):5.1f} passes; recorded exact match "
          f"{row['em']:.3f}, multiple choice {row['mc']:.3f}")

# %% [markdown]
# Fewer renderings means more passes over the same few sentences: the k = 1 arm saw each document many times and
# still states fewer facts. Repetition is not diversity.
#
# ## Exercise 4: the cost of one new fact
#
# Write `cost_per_fact(train_seconds, train_tokens, n_facts, index_seconds, index_tokens)`: a dict with
# `"ft_seconds"` and `"ft_tokens"` (a fine-tuning run's cost divided by the facts it taught), `"rag_seconds"` and
# `"rag_tokens"` (indexing one document, which holds one fact here), and `"ratio"`: how many times more seconds
# fine-tuning spends per fact than RAG. Then time indexing one document yourself (BM25 and dense) and compare.

# %%
def cost_per_fact(train_seconds: float, train_tokens: int, n_facts: int, index_seconds: float,
                  index_tokens: int) -> dict:
    """Per-fact cost of fine-tuning and of indexing, and their ratio in seconds."""
    ### BEGIN SOLUTION
    ft_seconds, ft_tokens = train_seconds / n_facts, train_tokens / n_facts
    return {"ft_seconds": ft_seconds, "ft_tokens": ft_tokens, "rag_seconds": index_seconds,
            "rag_tokens": index_tokens, "ratio": ft_seconds / index_seconds}
    ### END SOLUTION


# %%
from ftrag.check.l05 import check_cost_per_fact

check_cost_per_fact(cost_per_fact)

# %%
import time

from ftrag.retrieval import BM25Retriever, DenseRetriever, chunk_documents, load_embedder

embedder = load_embedder()
bm25, dense = BM25Retriever(chunk_documents(facts.docs)), DenseRetriever(chunk_documents(facts.docs), embedder)
new = {"doc_id": "product-new", "title": "Zelvora Relay", "type": "product",
       "text": "The list price of the Zelvora Relay is $1,250. The Zelvora Relay is maintained by the Gavrorn Team."}
start = time.perf_counter()
chunks = chunk_documents([new])
bm25.add(chunks)
dense.add(chunks)
index_seconds = time.perf_counter() - start
arm = sweep["rows"]["mixed, k=10"]
n_facts = len({r["fact_id"] for r in facts.train_qa + facts.eval_qa})
cost = cost_per_fact(arm["train_seconds"], arm["tokens"], n_facts, index_seconds,
                     len(embedder.tokenizer(new["text"])["input_ids"]))
print(f"indexing one document took {1000 * index_seconds:.0f} ms; fine-tuning spends {cost['ft_tokens']:,.0f} "
      f"tokens per fact ({n_facts} facts), RAG {cost['rag_tokens']} tokens")
# Seconds depend on the machine and on what else it runs (a busy laptop can take 10x longer to index); the tokens
# processed do not, so the lasting comparison is in tokens.
assert cost["ft_tokens"] > 10 * cost["rag_tokens"], "training should process far more tokens per fact than indexing"
