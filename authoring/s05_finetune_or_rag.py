# notebook: solutions/05_finetune_or_rag.ipynb
# %% [markdown]
# # Lab 05 · Fine-tune or RAG? Building the measurements yourself
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/05_finetune_or_rag.ipynb)
#
# Four exercises on the measurements of lesson 05, then two experiments whose outcome this lab does not tell you:
# how many look-alike passages this reader can take, and which of lesson 05's comparisons its intervals can decide.
# Fill in each blank (a function body that raises `NotImplementedError`, or a line marked for your answer), run the
# cell, then run the check below it.
#
# **Time:** about 23 minutes.
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
# renderings of every document the arms train on (`facts.trained_docs`: the train half, the evaluation half, then
# the validation documents; document by document; `injection.renderings(docs, k)` gives them in that order),
# followed by the train half's question/answer pairs as texts (`injection.qa_text(row)`). Then
# `passes(tokenizer, texts, budget)`: how many times each text is seen when `budget` tokens are trained on: budget
# divided by the texts' total tokens (`tokenizer(text)["input_ids"]`, minus the BOS each starts with, plus one EOS
# each). The arms share a budget of 300 x 8 x 256 tokens.

# %%
def mixed_texts(facts, k: int) -> list[str]:
    """k renderings of each document of the fact set, then the train half's QA pairs."""
    ### BEGIN SOLUTION
    return injection.renderings(facts.trained_docs, k) + [injection.qa_text(r) for r in facts.train_qa]
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
for k in injection.PARAPHRASE_KS:
    row = sweep["rows"][f"mixed, k={k}"]
    print(f"k = {k:>2}: {passes(tokenizer, mixed_texts(facts, k), budget):5.1f} passes in the full budget (three "
          f"quarters of it on facts; the run kept step {row['selected_step']}); recorded exact match {row['em']:.3f}, "
          f"multiple choice {row['mc']:.3f}")

# %% [markdown]
# **Reflect:** the k = 1 arm sees each sentence many more times than the k = 10 arm. Which states more facts, and
# what does that say about repetition against diversity? Why might the runs have kept different steps?
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

# %% [markdown]
# ## Exercise 5: how many look-alikes can this reader take? (an experiment)
#
# Lesson 05 read the evaluation questions with the gold document alone, among 2 and among up to 4 look-alikes.
# Here you draw the whole curve and decide a retrieval depth from it. Write `reading_curve(model, tokenizer, facts,
# rows, ns)`: for each `n` in `ns`, the exact match of the reader when each question's prompt holds its gold
# document among `n` look-alikes, fitted to the context (`injection.reading_passages(facts, rows, n,
# tokenizer=tokenizer)`, scored by `injection.reading_em(model, tokenizer, rows, passages)["em"]`).

# %%
curve: dict = {}  # the experiment below fills it: {n: exact match}


def reading_curve(model, tokenizer, facts, rows: list[dict], ns) -> dict[int, float]:
    """{n: exact match with the gold document among n look-alikes}."""
    ### BEGIN SOLUTION
    return {n: injection.reading_em(model, tokenizer, rows, injection.reading_passages(
        facts, rows, n, tokenizer=tokenizer))["em"] for n in ns}
    ### END SOLUTION


# %%
from ftrag.check.l05 import check_reading_curve

check_reading_curve(reading_curve)

# %% [markdown]
# The experiment, on 80 evaluation questions, n = 0 to 4 (a few seconds per point). Before you run it: at which n do
# you expect the reader to lose a tenth of its exact match?

# %%
import matplotlib.pyplot as plt

rows80 = facts.eval_qa[::3][:80]
curve = reading_curve(model, tokenizer, facts, rows80, range(5))
plt.figure(figsize=(5, 3))
plt.plot(list(curve), list(curve.values()), "o-")
plt.xlabel("look-alike documents beside the gold one")
plt.ylabel("exact match (80 questions)")
plt.ylim(0, 1)
plt.show()
print({n: round(v, 3) for n, v in curve.items()})

# %% [markdown]
# Set `max_look_alikes` to the largest number of look-alikes that costs at most 0.10 exact match against the gold
# document alone, read from your curve.

# %%
max_look_alikes = max(n for n in curve if curve[n] >= curve[0] - 0.10)  # SOLUTION

# %%
from ftrag.check.l05 import check_max_look_alikes

check_max_look_alikes(max_look_alikes, curve)

# %% [markdown]
# **Reflect:** a retriever with recall@1 of 0.75 and recall@3 of 0.95 (lesson 04's described questions): would you
# give this reader one passage or three? What would you need to measure to be sure, and how would RAFT-style
# training change your answer?
#
# ## Exercise 6: which comparisons can 266 questions decide? (an experiment)
#
# Lesson 05's sweep stored, for every arm, which evaluation questions it got right (`em_hits`, `hits_gold_2`...: a
# string of 0s and 1s in question order). Two arms asked the same questions are compared by a **paired bootstrap**:
# resample the questions with replacement, the same draw for both arms, and take the difference of their rates each
# time. Write `paired_bootstrap(a, b, n_resamples, seed)`: (rate of a minus rate of b, the 2.5th percentile, the
# 97.5th percentile of the resampled differences). Use `numpy.random.default_rng(seed)`.

# %%
import numpy as np

intervals: dict = {}  # the experiment below fills it: {comparison: (difference, low, high)}
verdicts: dict = {}  # ... and this: {comparison: "better" / "worse" / "cannot tell"}


def paired_bootstrap(a: str, b: str, n_resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """(rate a - rate b, low, high): the 95% paired-bootstrap interval of the difference."""
    ### BEGIN SOLUTION
    x = np.array([c == "1" for c in a], dtype=float)
    y = np.array([c == "1" for c in b], dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_resamples, len(x)))
    diffs = x[idx].mean(axis=1) - y[idx].mean(axis=1)
    return float(x.mean() - y.mean()), float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))
    ### END SOLUTION


# %%
from ftrag.check.l05 import check_paired_bootstrap

check_paired_bootstrap(paired_bootstrap)

# %% [markdown]
# Now four comparisons lesson 05 draws conclusions from. Before you run the cell, guess which of them the 266
# questions cannot decide.

# %%
arms = sweep["rows"]
comparisons = {
    "RAG vs the mixed k = 10 arm (exact match)": (arms["closed-book"]["rag_hits"], arms["mixed, k=10"]["em_hits"]),
    "mixed k = 10 vs k = 5 (exact match)": (arms["mixed, k=10"]["em_hits"], arms["mixed, k=5"]["em_hits"]),
    "RAFT vs its gold-only control (gold + 2 look-alikes)": (arms["RAFT reader"]["reader_hits_gold_2"],
                                                             arms["RAFT control: gold only"]["reader_hits_gold_2"]),
    "full vs LoRA, mixed k = 10 (exact match)": (arms["mixed, k=10"]["em_hits"], arms["mixed, k=10, LoRA"]["em_hits"]),
}
intervals = {name: paired_bootstrap(a, b) for name, (a, b) in comparisons.items()}
for name, (diff, low, high) in intervals.items():
    print(f"{name}: {diff:+.3f} [{low:+.3f}, {high:+.3f}]")

# %% [markdown]
# Write `verdict(low, high)`: `"better"` if the first arm is better (the whole interval above zero), `"worse"` if
# it is worse (the whole interval below zero), and `"cannot tell"` otherwise. The cell applies it to each comparison.

# %%
def verdict(low: float, high: float) -> str:
    """The verdict a 95% interval of a difference supports."""
    ### BEGIN SOLUTION
    return "better" if low > 0 else "worse" if high < 0 else "cannot tell"
    ### END SOLUTION


verdicts = {name: verdict(low, high) for name, (_, low, high) in intervals.items()}
print(verdicts)

# %%
from ftrag.check.l05 import check_verdicts

check_verdicts(verdicts, intervals)

# %% [markdown]
# **Reflect:** which verdicts surprised you? The interval covers another draw of questions; what does it not cover
# (think of the training seed, the fact set, the model)? For a verdict of "cannot tell", what would you change to
# decide it: more questions, more seeds, or a bigger effect?
