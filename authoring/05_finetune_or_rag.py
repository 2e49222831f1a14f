# notebook: notebooks/05_finetune_or_rag.ipynb
# %% [markdown]
# # 05 · Fine-tune or RAG? The same facts injected both ways, and the decision guide
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/notebooks/05_finetune_or_rag.ipynb)
#
# This is where the course answers its question. We take one fixed set of World B facts, which the course model
# has never read, and inject them into the model in every way the debate proposes: continued pretraining on the
# documents (with LoRA and with every weight), on 1 to 10 paraphrased renderings of each document, mixed with
# question/answer pairs, fine-tuning on the questions themselves, retrieval (RAG), both together, and a reader
# trained to read retrieved passages among distractors (RAFT). Every arm is asked the same questions in the same
# prompt format, and every arm pays its costs in the same currencies: what it forgets, what one new fact costs,
# what each query costs. The lesson ends with a decision guide whose every row is a number you measured in
# lessons 02 to 05.
#
# **You will learn**
# - to score knowledge two ways: exact match (can the model *state* the fact?) and multiple choice by
#   log-likelihood (does it *prefer* the true value?), as Ovadia et al. (2024) did;
# - why continued pretraining on documents stores facts the model cannot state, and what paraphrases and a few
#   question/answer examples change (Allen-Zhu & Li, 2023);
# - what fine-tuning on question strings really teaches (the strings);
# - what changing one fact costs each way, and whether the old value still comes out;
# - how a reader's training (RAFT, Zhang et al., 2024) and its capacity change what RAG delivers;
# - when to fine-tune, when to retrieve, when to do both, and when neither, from numbers.
#
# **Time:** about 60 minutes (the notebook's own run time, measured on a 2-core CPU,
# is in the [README's lesson table](../README.md#lessons)).
# **Prerequisites:** lessons [02](02_json_finetuning.ipynb) (LoRA, the training loop),
# [03](03_dialect_finetuning.ipynb) (continued pretraining, forgetting) and [04](04_rag_pipeline.ipynb) (the RAG
# pipeline).

# %% colab-install

# %% [markdown]
# ## Parameters
#
# The arms that take minutes to train were trained by one command (section 4) and are read from `SWEEP_FILE`; the
# live cells compare with them question by question. On another model (`FTRAG_MODEL=smollm2`) the live cells score
# the first `N_EVAL` evaluation questions, `SWEEP_FILE` is that model's own record (seven arms, trained by
# `python -m ftrag.course.real_injection`), section 8's reader reads `READ_BATCH` prompts at a time (a 135M model's
# key-value cache and attention over 32 prompts of 500 tokens would take the kernel past 3 GB), and the cells that
# need an arm only the course model has say so and skip.

# %% tags=["parameters"]
MODEL_NAME = None  # None: the course model (or $FTRAG_MODEL); a hub id or a local folder also works
SEED = 0  # the fact set, the data order and the initialisations
SWEEP_FILE = "results/05_injection.json"  # written by `python -m ftrag.course.injection` (section 4)
WEAK_READER = "course-lm-small"  # the weaker reader shipped in data/models/ (section 8)
TOLERANCE = 0.05  # how far a live run may land from its recorded row (exact match, absolute)
N_EVAL = None  # the evaluation questions the live cells score (None: all 266)
READ_BATCH = 32  # section 8's reading prompts generated at once
OTHER_MODEL = {"N_EVAL": 40, "SWEEP_FILE": "results/smollm2/05_injection.json",  # ~30x the time per token
               "READ_BATCH": 8}

# %%
import collections
import json
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from ftrag import seed_everything, stats
from ftrag.claims import claim, is_course_model
from ftrag.lm import answer_questions, format_prompt, load_model, prompt_for, world_a_scores
from ftrag.lm.generation import prompt_ids
from ftrag.paths import repo_root
from ftrag.results import save_results
from ftrag.retrieval import BM25Retriever, DenseRetriever, chunk_documents, load_embedder
from ftrag.retrieval.rag import answer_with_passages, build_prompt, context_length, retrieve_passages
from ftrag.tasks import fact_change, injection
from ftrag.tasks.multiple_choice import mc_accuracy, option_log_likelihoods, options_for
from ftrag.train import count_parameters

seed_everything(SEED)
model, tokenizer = load_model(MODEL_NAME, device="cpu")
COURSE = is_course_model(model)  # the recorded arms of SWEEP_FILE were trained on this model
if not is_course_model(model):
    N_EVAL, SWEEP_FILE, READ_BATCH = (OTHER_MODEL[k] for k in ("N_EVAL", "SWEEP_FILE", "READ_BATCH"))
    print(f"{model.name_or_path}: the parameters cell's smaller sample, {OTHER_MODEL}; an answer counts when the "
          "reply contains it (an instruct model answers in sentences)")
facts = injection.fact_set(seed=SEED)
eval_qa = facts.eval_qa[:N_EVAL]  # the questions the live cells ask (all of them on the course model)
facts_rows = injection.trained_facts(facts)  # the facts of every trained document: multiple choice's options
n_facts = len(facts_rows)
print(f"fact set: {len(facts.train_docs)} + {len(facts.eval_docs)} documents, and {len(facts.valid_docs)} validation "
      f"documents ({n_facts} facts); {len(facts.train_qa)} train-half questions, {len(facts.eval_qa)} evaluation "
      f"questions ({sum(r['kind'] == 'lexical' for r in facts.eval_qa)} lexical, "
      f"{sum(r['kind'] == 'paraphrased' for r in facts.eval_qa)} paraphrased), {len(facts.valid_qa)} validation "
      "questions")

# %% [markdown]
# ## 1. The fact set
#
# 60 World B documents, drawn with the seed, split in two halves of 30, and 10 more drawn from the other documents
# as a **validation set**. **Every arm that trains sees all 70 documents.** Only the *train half's* questions may
# ever be trained on; the *evaluation half's* questions are the ones every arm is asked; the *validation*
# documents' questions choose each run's learning rate and the step to keep (section 4), so no choice is made on
# the questions that score it. One evaluation document, its first three renderings (rendering 1 is the document
# itself; 2 to 10 say the same facts in other words and orders), and its questions, lexical (the document's words)
# and paraphrased (other words):

# %%
doc = facts.eval_docs[0]
for k, text in enumerate(injection.renderings([doc], 3), 1):
    print(f"rendering {k}: {text}")
for row in [r for r in facts.eval_qa if r["doc_id"] == doc["doc_id"]][:4]:
    print(f"{row['kind']:>11}: {row['question']} -> {row['answer']}")

# %% [markdown]
# ## 2. Two ways to score knowledge
#
# **Exact match** asks the model to *state* the fact: greedy generation after `Question: ... Answer:`, compared
# with the gold answer. **Multiple choice by log-likelihood** asks whether it *prefers* the true value: the answer
# and three other values of the same kind (three other dates, three other teams) are each scored by the
# log-probability the model gives them after the same prompt, and the model "knows" the fact when the true one
# scores highest. Chance is 0.25. It needs no generation and no exact wording, so it sees knowledge that exact
# match misses; Ovadia et al. scored fine-tuning against RAG this way.
#
# The three other values come from **facts the arms trained on** (same type). Drawn from all of World B, the true
# answer would be the only option a fine-tuned model had ever read, and multiple choice would partly measure
# familiarity with a string, not knowledge of the fact. The untrained model on the same options is the control.

# %%
row = facts.eval_qa[0]
options = options_for([row], facts_rows)[0]
scores = option_log_likelihoods(model, tokenizer, [format_prompt(row["question"])], [options])[0]
print(row["question"], "| gold:", row["answer"])
for option, score in sorted(zip(options, scores, strict=True), key=lambda x: -x[1]):
    print(f"  {score:8.2f}  {option}")

# %% [markdown]
# The closed-book baseline: the course model on the evaluation questions, with nothing but the question. Its
# multiple-choice accuracy is the control every fine-tuned arm is compared with: it has read none of the options.

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
live = {"closed-book": injection.closed_book_scores(model, tokenizer, eval_qa, facts_rows)}
shown = ["em_lexical", "em_paraphrased", "em", "mc"]
pd.DataFrame(live).T[shown].astype(float).round(3)

# %% [markdown]
# ## 3. RAG: lesson 04's best pipeline
#
# BM25 over all 164 World B documents, the top document in the prompt (lesson 04 measured that this reader reads
# one good passage best). Multiple choice can use the passage too. Each rate gets a **95% interval**: the
# percentile bootstrap over the 266 questions (`ftrag.stats`), how far the rate could move with another draw of
# questions like these.

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
start = time.perf_counter()
rag_passages = injection.rag_passages(facts, eval_qa)
rag_scores = injection.reading_em(model, tokenizer, eval_qa, rag_passages)
rag_seconds = time.perf_counter() - start
by_id = {d["doc_id"]: d["text"] for d in facts.docs}
hit = np.mean([p[0] == by_id[r["doc_id"]] for r, p in zip(eval_qa, rag_passages, strict=True)])
rag_scores["mc"] = mc_accuracy(model, tokenizer, eval_qa, options_for(eval_qa, facts_rows), rag_passages)[0]
live["RAG (BM25, top 1)"] = rag_scores
prompt_tokens = {  # as the model reads them: in its own prompt format
    "closed-book": np.mean([len(prompt_ids(tokenizer, prompt_for(tokenizer, r["question"]))) for r in eval_qa]),
    "RAG (BM25, top 1)": np.mean([len(prompt_ids(tokenizer, prompt_for(tokenizer, r["question"], p)))
                                  for r, p in zip(eval_qa, rag_passages, strict=True)]),
}
print(f"BM25 put the gold document first for {hit:.3f} of the questions")
print(f"{len(eval_qa)} questions retrieved and answered in {rag_seconds:.1f} s "
      f"({1000 * rag_seconds / len(eval_qa):.0f} ms per question)")
print("RAG exact match and its 95% interval:", stats.shown(stats.interval(rag_scores["hits"])))
pd.DataFrame(live).T[shown].astype(float).round(3)

# %% [markdown]
# Retrieval finds the right document for almost every question, and the reader copies the answer out of it: the
# facts were never in the weights, and did not need to be.
#
# ## 4. Fine-tuning the facts in, tuned as a practitioner would
#
# Each fact arm starts from the course model and trains on the **same token budget**: up to 300 steps of 8 packed
# blocks of 256 tokens (614k tokens, about 3.5 minutes on one core), so an arm with less text sees it more often.
# A quarter of every arm's blocks **replay World A's training text**, the standard guard against forgetting: the
# model keeps reading what it was built on while it learns the facts.
#
# - **documents, LoRA / full**: the 70 documents (continued pretraining, Ovadia et al.'s "unsupervised
#   fine-tuning"). Does reading facts store them?
# - **10 paraphrases, full**: 10 renderings of each document. Does diversity alone make them stateable?
# - **mixed, k = 1, 5, 10** (and k = 10 with LoRA, and without replay): k renderings of each document **plus the
#   train half's question/answer pairs** (Allen-Zhu & Li's mixed training: the QA pairs show how facts are asked
#   for; the evaluation half's are never shown).
#
# Four arms have **budgets of their own**: 150 steps on question/answer pairs, not the 614k-token budget, and no
# replay:
#
# - **question wordings**: what practitioners actually try, several questions per fact with their answers. Every
#   wording World B's templates have for the evaluated facts (3 to 5 per fact) *except the two that are asked*.
# - **memorised questions**: the evaluation half's lexical questions themselves (section 5).
# - **RAFT reader**, and its **control** with the gold passage only: train-half questions read from passages
#   (section 8). Reading, not knowing.
#
# **How each run was tuned.** The learning rate of full fine-tuning was chosen from 3e-4, 1e-3 and 3e-3, and LoRA's
# from 3e-3 and 1e-2, on the strongest arm (mixed, k = 10), by exact match on the 96 validation questions (multiple
# choice breaks ties). The other text arms and `question wordings` train at their method's chosen rate; memorised
# questions and the two RAFT readers keep the recipes of their own (`lr` shows `None`). Every run but the memorised
# one is scored on the validation questions every 50 steps and **keeps its best step** (early stopping). The
# evaluation questions chose nothing.
#
# Training the twelve arms, the grid and two more seeds of the strongest arm took about an hour and a half on one
# core, too long for a notebook, so one documented command trained them and wrote one row per arm to a committed
# file; section 5 trains one arm live and checks it
# against its row. The command, its budget and its seed are in the file:

# %%
sweep = json.loads((repo_root() / SWEEP_FILE).read_text())
rows = sweep["rows"] if COURSE else injection.record_rows(sweep, facts.eval_qa)  # the real model's: its own keys
print("command:", sweep["command"], "| threads:", sweep["threads"])
print("budget:", json.dumps(sweep["budget"]))
assert sweep["fact_set"]["eval_docs"] == [d["doc_id"] for d in facts.eval_docs], "the sweep used another fact set"
assert sweep["fact_set"]["valid_docs"] == [d["doc_id"] for d in facts.valid_docs], "the sweep validated elsewhere"
if COURSE:
    grid = pd.DataFrame([{"method": method, "learning rate": run["lr"], "best step": run["selected_step"],
                          "validation EM": run["validation"][0], "validation MC": run["validation"][1],
                          "chosen": run["lr"] == rows[f"learning-rate grid, {method}"]["selected_lr"]}
                         for method in ("full", "lora") for run in rows[f"learning-rate grid, {method}"]["runs"]])
    display(grid)
else:
    print(f"{sweep['cpu']}, {sweep['threads']} threads, {sweep['date']}; arms trained, each at one learning rate (no "
          f"grid on this model): " + ", ".join(f"{name} (lr {rows[name]['lr']:g})" for name in list(rows)[1:]))

# %% [markdown]
# Full fine-tuning chose the **largest** rate of its grid, 3e-3, far ahead of 1e-3 on validation: a larger rate
# might do better still, and the grid does not say. LoRA's two rates land close together (its adapter learns
# facts slowly at either), so its choice between them matters little.
#
# The validation curves of the grid: exact match on the validation questions against the step, one line per
# learning rate. The dot marks the step each run kept.

# %%
grids = [(f"mixed, k = 10, {method}", rows[f"learning-rate grid, {method}"]["runs"]) for method in ("full", "lora")] \
    if COURSE else [(name, [{"lr": row["lr"], "curve": row["curve"], "selected_step": row["selected_step"]}])
                    for name, row in rows.items() if row.get("curve")]  # (memorised questions: no validation)
fig, axes = plt.subplots(1, len(grids), figsize=(9, 3.2), sharey=True)
for ax, (title, runs) in zip(axes, grids, strict=True):
    for run in runs:
        steps_, em_ = [c["step"] for c in run["curve"]], [c["scores"][0] for c in run["curve"]]
        line, = ax.plot(steps_, em_, "o-", ms=3, label=f"lr {run['lr']:g}")
        ax.plot([run["selected_step"]], [em_[steps_.index(run["selected_step"])]], "o", ms=9, c=line.get_color())
    ax.set(title=title, xlabel="step", ylim=(0, None))
    ax.legend(fontsize=8)
axes[0].set_ylabel("validation exact match")
plt.tight_layout()
plt.show()

# %% [markdown]
# Every arm, scored on the evaluation half. `lr` and `kept step` are what validation chose; `budget` says whether
# the arm shared the 614k-token budget.

# %%
columns = ["budget", "lr", "selected_step", "em_lexical", "em_paraphrased", "em", "mc", "em_train_half", "rag_em",
           "world_a_ppl", "rc_em", "train_seconds"]
arm_names = [name for name in injection.ARMS if name in rows]  # another model: the arms its command trained
arms = pd.DataFrame({name: rows[name] for name in ["closed-book", *arm_names]}).T.reindex(columns=columns)
arms.loc["closed-book", ["budget", "lr", "selected_step"]] = "-"
arms = arms.rename(columns={"selected_step": "kept step"})
floats = [c for c in arms.columns if c not in ("budget", "lr", "kept step")]
arms[floats] = arms[floats].astype(float).round(3)
arms

# %% [markdown]
# Read the table by column:
# - **Continued pretraining on the documents** leaves exact match low (0.03 to 0.11): the facts went in (multiple
#   choice rises above the untrained model's), but the model cannot *state* them when asked. This is Ovadia et al.'s
#   finding, and Allen-Zhu & Li's: knowledge read once, in one form, is stored but not extractable.
# - **Paraphrases plus question/answer pairs** make the evaluation half's facts stateable, though those questions
#   were never trained: the model learned *how facts are asked for* from the train half and applied it.
#   `em_train_half` (the trained questions) shows what memorising alone reaches.
# - `rag_em` is each fine-tuned model used as the reader of RAG, and `rc_em` its reading of World A's passages:
#   replay keeps the reading (`rc_em` 0.43 with it, 0.00 without, in `mixed, k=10` and `mixed, k=10, no replay`),
#   and without it RAG's passage adds almost nothing to what the model states closed-book (`rag_em` against `em`).
#
# First the headline comparison: RAG, measured live above, against the **best fine-tuned arm** (highest exact
# match among the arms that teach facts, memorised questions aside), with the interval of the difference from a
# paired bootstrap (both scored on the same 266 questions):

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
fact_arms = [n for n in arm_names if injection.ARMS[n]["data"] in ("texts", "wordings")]
best_ft = max(fact_arms, key=lambda n: rows[n]["em"])
# another model: RAG's hits from its record (the same command, all 266 questions), paired with its arms'
rag_hits, rag_em = (rag_scores["hits"], rag_scores["em"]) if COURSE else (rows["closed-book"]["rag_hits"],
                                                                         rows["closed-book"]["rag_em"])
gap = stats.paired_difference(rag_hits, rows[best_ft]["em_hits"])
print(f"best fine-tuned arm: {best_ft}, exact match {stats.shown(stats.interval(rows[best_ft]['em_hits']))}")
print(f"RAG minus {best_ft}: {stats.shown(gap)}")
docs_ft_em = max(rows[n]["em"] for n in ("documents, LoRA", "documents, full") if n in rows)
claim(model, rag_em >= docs_ft_em + 0.40,
      f"RAG exact match {rag_em:.3f} >= fine-tuning on the raw documents ({docs_ft_em:.3f}) + 0.40")
claim(model, gap[1] > 0.05, f"RAG beats the best tuned fine-tuning arm by {gap[0]:.3f}, and the 95% interval of "
      f"the gap [{gap[1]:.3f}, {gap[2]:.3f}] lies above 0.05")

# %% [markdown]
# The best fine-tuned arm is the one **without replay**: at the same budget it spent every token on the facts, and
# section 9 shows what that cost it. The interval above is over questions, with the arm trained once. The sweep
# also trained the strongest arm with replay (mixed, k = 10) with **two more training seeds** (another
# initialisation of the data order and the replay sample), so we can see how much training itself moves the number:

# %%
if COURSE:
    seed_rows = {"seed 0": rows["mixed, k=10"], **{f"seed {s}": rows[f"mixed, k=10, seed {s}"] for s in (1, 2)}}
    seed_gaps = {name: stats.paired_difference(rag_scores["hits"], row["em_hits"]) for name, row in seed_rows.items()}
    seed_table = pd.DataFrame({name: {"exact match": row["em"], "multiple choice": row["mc"], "kept step":
                                      row["selected_step"], "RAG minus this run": stats.shown(seed_gaps[name])}
                               for name, row in seed_rows.items()}).T
    seed_em = [row["em"] for row in seed_rows.values()]
    print(f"mixed, k = 10 over 3 training seeds: exact match {min(seed_em):.3f} to {max(seed_em):.3f} (spread "
          f"{max(seed_em) - min(seed_em):.3f}); the interval over questions is {gap[2] - gap[1]:.3f} wide")
    claim(model, min(g[1] for g in seed_gaps.values()) > 0.05,
          "RAG beats the k = 10 arm with replay at every training seed, every interval above 0.05")
    display(seed_table)
else:
    print("not on this model: each arm was trained once (the three seeds are the course model's)")

# %% [markdown]
# **Accuracy against the number of paraphrases.** The curve comes from the *mixed* design (renderings plus the
# train half's QA pairs): with plain continued pretraining, exact match stays near zero at every k (the
# `10 paraphrases, full` row), so there would be no curve to draw. Multiple choice and exact match are both shown,
# each with its interval over questions, with RAG and the untrained model as horizontal lines.

# %%
if COURSE:
    ks = list(injection.PARAPHRASE_KS)
    curve = pd.DataFrame({k: {m: stats.interval(rows[f"mixed, k={k}"][f"{m}_hits"]) for m in ("em", "mc")}
                          for k in ks}).T
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for metric, colour, label in (("mc", "tab:blue", "multiple choice"), ("em", "tab:green", "exact match")):
        rate = [curve.loc[k, metric][0] for k in ks]
        err = np.array([[r - curve.loc[k, metric][1], curve.loc[k, metric][2] - r] for k, r in zip(ks, rate,
                                                                                                   strict=True)]).T
        ax.errorbar(ks, rate, yerr=err, fmt="o-", c=colour, capsize=3, label=f"fine-tuned: {label}")
    ax.axhline(rag_scores["em"], c="tab:red", ls="--", label="RAG: exact match")
    ax.axhline(rag_scores["mc"], c="tab:red", ls=":", label="RAG: multiple choice")
    ax.axhline(live["closed-book"]["mc"], c="gray", ls=":", label="untrained: multiple choice")
    ax.axhline(live["closed-book"]["em"], c="gray", ls="--", label="untrained: exact match")
    ax.set(xscale="log", xticks=ks, xticklabels=ks, ylim=(0, 1.02), xlabel="renderings per document (k)",
           ylabel="accuracy on the evaluation half", title="mixed training: documents x k + train-half QA pairs")
    ax.legend(fontsize=7, loc="center right")
    plt.tight_layout()
    plt.show()
    gain_mc = stats.paired_difference(rows["mixed, k=10"]["mc_hits"], rows["mixed, k=1"]["mc_hits"])
    gain_em = stats.paired_difference(rows["mixed, k=10"]["em_hits"], rows["mixed, k=1"]["em_hits"])
    print(f"k = 10 minus k = 1: multiple choice {stats.shown(gain_mc)}, exact match {stats.shown(gain_em)}")
    claim(model, gain_mc[1] > 0 and gain_em[1] > 0, "more renderings per document help: k = 10 beats k = 1 in both "
          "multiple choice and exact match, both intervals above zero")
else:
    print("not on this model: the k = 5 arm is the course model's (section 13 compares this model's k = 1 and k = 10)")

# %% [markdown]
# ## 5. Memorising question strings (trained live), and several wordings per fact
#
# A tempting shortcut: fine-tune on the very questions users will ask. The smallest arm of the sweep does exactly
# that, with the evaluation half's *lexical* questions and their answers (loss on the answer only), and it trains
# in seconds, so we train it here and check it against its recorded row. Then we ask the *paraphrased* questions:
# the same facts, reworded.

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
if COURSE:  # full fine-tuning, 150 steps: minutes on the course model, most of an hour on a real one
    memorised, _ = load_model(MODEL_NAME, device="cpu")
    lexical = [r for r in facts.eval_qa if r["kind"] == "lexical"]
    example = injection.memorise_examples(tokenizer, lexical[:1])[0]
    print(repr(tokenizer.decode(example["input_ids"])), "| trained tokens:",
          repr(tokenizer.decode([t for t in example["labels"] if t >= 0])))
    memorised, mem_run = injection.train_arm(memorised, tokenizer, facts, injection.ARMS["memorised questions"],
                                             seed=SEED)
    print(f"{len(mem_run.losses)} steps in {mem_run.seconds:.0f} s, loss {mem_run.losses[0]:.2f} -> "
          f"{mem_run.final_loss:.2f}, {mem_run.tokens:,} tokens")
    mem = injection.closed_book_scores(memorised, tokenizer, facts.eval_qa, facts_rows)
    recorded = rows["memorised questions"]
    print(f"live: trained wording EM {mem['em_lexical']:.3f}, reworded EM {mem['em_paraphrased']:.3f} | recorded: "
          f"{recorded['em_lexical']:.3f}, {recorded['em_paraphrased']:.3f}")
elif "memorised questions" in rows:  # another model: the arm its command trained (ftrag.course.real_injection)
    mem = rows["memorised questions"]
    print(f"not trained live on this model (full fine-tuning, too long for a notebook on a CPU); its record, "
          f"{mem['budget']} at lr {mem['lr']:g}: trained wording {mem['em_lexical']:.3f}, reworded "
          f"{mem['em_paraphrased']:.3f}")
else:
    mem = None
    print("not on this model: the memorised arm is full fine-tuning, too long for a notebook on a CPU")

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
if COURSE:
    assert all(abs(mem[k] - recorded[k]) <= TOLERANCE for k in ("em_lexical", "em_paraphrased", "mc")), \
        f"the live run should land within {TOLERANCE} of the recorded row"
    print(f"the live run agrees with the recorded row (within {TOLERANCE})")
if mem is not None:  # another model: its recorded arm
    claim(model, mem["em_lexical"] >= 0.80 and mem["em_paraphrased"] <= mem["em_lexical"] - 0.30,
          f"memorised question strings: EM {mem['em_lexical']:.3f} on the trained wording (>= 0.80), "
          f"{mem['em_paraphrased']:.3f} on reworded questions about the same facts (at least 0.30 lower)")
else:
    print("claim not measured on this model: memorised question strings")

# %% [markdown]
# The model learned the strings, not the facts: reworded, the same question loses most of its answers, though
# multiple choice shows some of the association did form (`mc_paraphrased` in the recorded row). Real users do not
# ask in the words of your training set.
#
# What practitioners do instead is write **several questions per fact**. The `question wordings` arm trained on
# every other wording of the evaluated facts (never the two that are asked), and is asked the evaluation
# questions, *all* of them unseen wordings now:

# %%
wordings = pd.DataFrame({name: {"EM lexical": rows[name]["em_lexical"], "EM paraphrased": rows[name]["em_paraphrased"],
                                "EM": stats.shown(stats.interval(rows[name]["em_hits"])), "MC": rows[name]["mc"],
                                "trained on": what}
                         for name, what in (("memorised questions", "the evaluated lexical questions"),
                                            ("question wordings", "3-5 other wordings per fact"),
                                            ("mixed, k=10", "10 renderings + train-half QA pairs"))
                         if name in rows}).T
wordings if len(wordings) else "not on this model: none of these three arms was trained on it"

# %% [markdown]
# Several wordings per fact work: the arm states about two thirds of the facts in wordings it never saw, as many as
# any arm in section 4, in 150 steps (half a minute on one core) against the text arms' five minutes. Two things
# temper it. RAG still answers more (0.865), and this arm trained on questions about **the very facts it is asked
# about**, so every new fact needs its questions written first. And, trained without replay, it lost World A: its
# perplexity there is above 100, and it reads none of World A's passages (section 9). A production version would
# need replay, and would pay for it in facts, as the mixed arm did.
#
# ## 6. Facts change
#
# **One fact, live.** The list price of one product in the evaluation half doubles. With RAG, the knowledge base
# changes: replace the document and rebuild the index (BM25 over 164 documents: milliseconds). With fine-tuning, the
# model has to be trained on the new version: here the memorised model of section 5 (the course model's states the
# old price when asked in its trained words) trains on the new document's ten renderings, the continued-pretraining
# way. On another model the update is its command's, on its memorised arm (section 13 says what it shows).

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
target = fact_change.change_target(facts)
questions = [r["question"] for r in target["questions"]]
new_doc = fact_change.changed_document(target["doc"], target["old"], target["new"])
print(f"{target['doc']['title']}: {target['old']} -> {target['new']}\n  new version: {new_doc['text']}")

start = time.perf_counter()
docs_after = [new_doc if d["doc_id"] == new_doc["doc_id"] else d for d in facts.docs]
bm25_after = BM25Retriever(chunk_documents(docs_after))
reindex_seconds = time.perf_counter() - start
rag_after = answer_with_passages(model, tokenizer, questions, retrieve_passages(bm25_after, questions, 1))
change = pd.DataFrame({"question": questions, "RAG, after replacing the document": rag_after})
if COURSE:  # another model has no memorised model (section 5) to update
    ft_before = answer_questions(memorised, tokenizer, questions, max_new_tokens=12)
    update = fact_change.update_fact(memorised, tokenizer, facts, "full", seed=SEED)
    change = change.assign(**{"memorised model, before": ft_before,
                              "memorised model, after training on the new version": update["after"],
                              "log p(new) - log p(old), after": update["preference_after"]})
    print(f"RAG: index rebuilt in {1000 * reindex_seconds:.0f} ms | fine-tuning: {update['update_tokens']:,} tokens, "
          f"{update['update_seconds']:.1f} s")
elif "one_fact_update" in rows.get("memorised questions", {}):  # this model's memorised arm, by its command
    one = rows["memorised questions"]["one_fact_update"]
    change = change.assign(**{"memorised arm, before (its command)": one["before"],
                              "memorised arm, after training on the new version": one["after"],
                              "log p(new) - log p(old), after": one["preference_after"]})
    print(f"RAG: index rebuilt in {1000 * reindex_seconds:.0f} ms | fine-tuning (its command, section 13): "
          f"{one['update_tokens']:,} tokens, {one['update_seconds']:.1f} s on {one['threads']} thread(s)")
else:
    print(f"RAG: index rebuilt in {1000 * reindex_seconds:.0f} ms | fine-tuning: not on this model")
change.set_index("question").round(3)

# %% [markdown]
# RAG answers the new price to both wordings the moment the document is replaced. The fine-tuned course model needed
# training to change its answer, and the update reached the trained wording more cleanly than the other one.
#
# **Twenty facts.** One fact is an anecdote. Twenty facts of the evaluation half change at once (one per document:
# a team's size, a product's price, an incident's date...; each new value is a value of the same kind from a
# document no arm trained on). RAG replaces the twenty documents, live; the sweep trained its strongest arm
# (mixed, k = 10) on the ten renderings of all twenty changed documents, 5 steps per fact with the arm's replay.
# Each of the 40 questions about them gets the **new** value, the **old** one, or something else:

# %%
# NBVAL_TOLERANCE 0.04: shares of 40 greedy answers may move by one answer on another CPU
targets = fact_change.change_targets(facts, seed=SEED)
rag_change = fact_change.rag_update(model, tokenizer, facts, targets)
n_asked = sum(len(t["questions"]) for t in targets)
changes = {"RAG, before": rag_change["before"], "RAG, after replacing 20 documents": rag_change["after"]}
print(f"{len(targets)} facts changed, {n_asked} questions; e.g. " +
      "; ".join(f"{t['fact_id']}: {t['old']} -> {t['new']}" for t in targets[:3]))
if COURSE:  # the sweep's update of its k = 10 arm
    ft_change = rows["mixed, k=10"]["update"]
    changes.update({"fine-tuned (k = 10), before": ft_change["before"],
                    "fine-tuned (k = 10), after training": ft_change["after"]})
    print(f"fine-tuning: {ft_change['steps']} steps, {ft_change['update_tokens']:,} tokens; exact match on the "
          f"{len(facts.eval_qa) - n_asked} unchanged questions {ft_change['unchanged_em_before']:.3f} -> "
          f"{ft_change['unchanged_em_after']:.3f}")
(pd.DataFrame(changes).T / n_asked).round(3)

# %%
# NBVAL_TOLERANCE 0.04: shares of 40 greedy answers may move by one answer on another CPU
rag_new, rag_old = rag_change["after"]["new"] / n_asked, rag_change["after"]["old"] / n_asked
if COURSE:
    ft_new, ft_old = ft_change["after"]["new"] / n_asked, ft_change["after"]["old"] / n_asked
    new_gap = stats.paired_difference(fact_change.new_hits(rag_change["answers_after"], targets),
                                      fact_change.new_hits(ft_change["answers_after"], targets))
    unchanged_drop = ft_change["unchanged_em_before"] - ft_change["unchanged_em_after"]
    print(f"new value after the change: RAG {rag_new:.3f}, fine-tuned {ft_new:.3f}; RAG minus fine-tuned "
          f"{stats.shown(new_gap)}; the old value: RAG {rag_old:.3f}, fine-tuned {ft_old:.3f}")
    claim(model, new_gap[1] <= 0 and rag_old <= 0.05 and ft_old <= 0.05,
          f"both updates took: no old value comes out (at most 0.05 of the questions), and RAG's lead in new values "
          f"({new_gap[0]:.3f}) is inside the interval of 40 questions")
    claim(model, unchanged_drop >= 0.05, f"the fine-tuning update moved facts it was not about: exact match on the "
          f"unchanged questions fell {ft_change['unchanged_em_before']:.3f} -> {ft_change['unchanged_em_after']:.3f}")
else:
    print(f"new value after the change: RAG {rag_new:.3f}, the old value {rag_old:.3f}; this model's fine-tuning "
          "update is its command's (section 13; claims not measured here)")

# %% [markdown]
# This is not the result the one-fact anecdote suggests. Trained on the new documents with replay, five steps per
# fact, the fine-tuned model gave the new value about as often as RAG (RAG's lead is a few answers of 40, inside
# the interval), and **neither** gave an old value. What separates them is what the change cost: RAG rebuilt an
# index in milliseconds and left every other answer as it was; the fine-tuning update took a minute and a half of
# training, and exact match on the 226 questions whose facts had not changed fell by 0.12 (in the print above).
# A model that is retrained for every batch of changes pays this every time, or must replay its old facts too.

# %% [markdown]
# ## 7. Fine-tuned and retrieving: both
#
# `rag_em` in the sweep's table is each fine-tuned model used as the RAG reader, with the same retrieved passage.
# Does knowing the facts make a better reader, and does training on facts cost the reading that RAG relies on?

# %%
both_arms = ["closed-book", "mixed, k=10", "mixed, k=10, LoRA", "mixed, k=10, no replay", "memorised questions"] \
    if COURSE else list(rows)  # another model: the rows its command made
both_arm = "mixed, k=10" if COURSE else "mixed, k=10, LoRA"  # another model: its strongest arm with replay
both = pd.DataFrame({
    "closed-book EM": {name: rows[name]["em"] for name in both_arms},
    "with RAG's passage (EM)": {name: rows[name]["rag_em"] for name in both_arms},
    "World A reading (EM)": {name: rows[name]["rc_em"] for name in both_arms},
})
both_gain = stats.paired_difference(rows[both_arm]["rag_hits"], rows[both_arm]["em_hits"])
print(f"{both_arm.replace('k=10', 'k = 10')} with RAG's passage minus without: {stats.shown(both_gain)}")
both.round(3)

# %% [markdown]
# Retrieval on top of the fine-tuned model **does** help it: its exact match rises by about 0.12, the interval
# above zero. But it reaches less than RAG on the untrained model (0.865): training on the facts cost the model
# part of its reading (World A reading EM 1.00 before, about 0.4 after, even with replay), and without replay
# reading is gone entirely (0.00), though that arm states more facts closed-book. For this model, on facts that
# retrieval finds, the best "both" is no fine-tuning at all; a model whose reading survived its training would do
# better (section 8's RAFT reader is one).
#
# ## 8. The reader: RAFT-style training, its control, and capacity
#
# RAG delivers what its reader makes of the passages. Three questions. Does a reader **trained to read among
# distractors** (RAFT, Zhang et al., 2024: train-half questions with the gold document among look-alike documents,
# and 5% of the time without it) read better? Is that the distractors, or simply training on this kind of prompt?
# The **control** answers it: the same questions, steps and learning rate, with the gold document alone. And does a
# **weaker reader** read worse?
#
# Each reader gets the evaluation questions with the gold document alone, among 2 and among 4 look-alike documents
# (BM25's next-best documents for the question), and with RAG's top document. The plain reader and the weak reader
# run live; the RAFT reader and its control are the sweep's. **Every passage fits**: four look-alikes of about 100
# tokens and the gold one overflow the 512-token context, so look-alikes are dropped (never the gold document) until
# the prompt fits; the count of prompts that hold fewer than asked is printed.

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
plain = injection.reader_scores(model, tokenizer, facts, eval_qa, batch_size=READ_BATCH)
small_model, small_tokenizer = load_model(WEAK_READER, device="cpu")
weak = injection.reader_scores(small_model, small_tokenizer, facts, eval_qa)
reader_name = "course model" if COURSE else model.name_or_path.rsplit("/", 1)[-1]
recorded_reader = {name: {k.removeprefix("reader_"): v for k, v in rows[name].items() if k.startswith("reader_")}
                   for name in ("RAFT reader", "RAFT control: gold only") if name in rows}
raft, control = recorded_reader.get("RAFT reader"), recorded_reader.get("RAFT control: gold only")
prompts_kinds = {"gold_0": "gold alone", "gold_2": "gold + 2 look-alikes", "gold_4": "gold + up to 4",
                 "rag": "RAG (top 1)"}
readers = pd.DataFrame({reader_name: plain, **({"RAFT-trained": raft, "control: trained on gold alone": control}
                                               if COURSE else {}),  # trained on the course model only
                        f"weaker reader ({count_parameters(small_model)[1] / 1e6:.1f}M)": weak}).T[list(prompts_kinds)]
readers.columns = list(prompts_kinds.values())
readers = readers.astype(float)
fitted = injection.reading_passages(facts, eval_qa, 4, tokenizer=tokenizer)
kept = [build_prompt(tokenizer, r["question"], ps, max_tokens=context_length(model, tokenizer), reserve=12)[1]
        for r, ps in zip(eval_qa, fitted, strict=True)]
assert kept == [len(ps) for ps in fitted], "a reading prompt dropped a passage: the gold one could be cut"
print(f"prompts holding fewer look-alikes than asked: {plain['short_2']} of {len(eval_qa)} with 2, "
      f"{plain['short_4']} with 4; every prompt keeps all its passages, the gold document included")
ax = readers.T.plot(kind="bar", rot=0, figsize=(8, 3.5), ylim=(0, 1.05), title="exact match by reader and prompt")
ax.set_ylabel("exact match")
plt.tight_layout()
plt.show()
readers.round(3)

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
if is_course_model(model):
    assert all(abs(plain[k] - rows["plain reader"][k]) <= TOLERANCE for k in prompts_kinds), \
        "the live plain reader should agree with the sweep's"
if COURSE:  # the RAFT readers were trained on the course model's prompts
    raft_vs_plain = stats.paired_difference(raft["hits_gold_2"], plain["hits_gold_2"])
    raft_vs_control = {n: stats.paired_difference(raft[f"hits_gold_{n}"], control[f"hits_gold_{n}"])
                       for n in (2, 4)}
    print(f"gold + 2 look-alikes: RAFT minus the plain reader {stats.shown(raft_vs_plain)}")
    for n, diff in raft_vs_control.items():
        print(f"gold + {'2' if n == 2 else 'up to 4'}: RAFT minus its gold-only control {stats.shown(diff)}")
    claim(model, raft_vs_plain[1] > 0, f"a reader trained on this kind of prompt reads look-alikes better than the "
          f"plain reader: +{raft_vs_plain[0]:.3f} with 2 look-alikes, interval above zero")
    claim(model, raft_vs_control[4][1] > 0, f"the distractors in training are what helps: with up to 4 look-alikes "
          f"the RAFT reader beats its gold-only control by {raft_vs_control[4][0]:.3f}, interval above zero")
else:
    print("the RAFT readers were not trained on this model (claims not measured)")
claim(model, weak["rag"] < plain["rag"] and weak["gold_0"] < plain["gold_0"],
      f"the weaker reader reads worse than the {reader_name}: RAG EM {weak['rag']:.3f} vs {plain['rag']:.3f}, "
      f"gold alone {weak['gold_0']:.3f} vs {plain['gold_0']:.3f}")

# %% [markdown]
# Three readings of the table. **Look-alikes hurt**: the course model reads 0.87 with the gold document alone, less
# about half of that once two look-alikes sit beside it, 0.29 with up to four. **RAFT helps, and the distractors are
# what helps**: the reader trained among look-alikes gains 0.07 to 0.09 over the plain reader, while the control,
# trained on the same questions with the gold document alone, gains a third of that or less, its intervals
# reaching zero. With 2 look-alikes the RAFT-minus-control interval reaches zero exactly, with up to 4 it clears it: the
# evidence that distractors matter is real but not large. Both trained readers read the gold document alone a
# little better too (in-domain reader tuning). **The weaker reader is a capacity point, not a reader**: a 1.1M
# model trained by the course model's recipe, it answers 0.13 of its own World A reading questions, so it fails
# here for the reason it fails everywhere; RAG cannot make a model read.
#
# What our RAFT leaves out of the paper's recipe: Zhang et al. train the reader to answer with a chain of thought
# that quotes the relevant passage before the answer (the quote is what teaches the model *which* passage to
# trust), and mix in questions whose gold document is missing so the model learns when to fall back on memory. Ours
# trains the short answer alone, and 5% of its examples lack the gold document; its gain is the smaller one to
# expect.
#
# ## 9. What each arm costs
#
# **Forgetting.** Every fine-tuned arm is scored on World A after training: held-out perplexity and reading
# comprehension (gold passage alone), the course model's own skills. The base model is measured live.

# %%
# NBVAL_TOLERANCE 0.01: rates over 200-300 greedy answers may move by two answers on another CPU
base_world_a = world_a_scores(model, tokenizer)
forgetting = pd.DataFrame({name: {"World A ppl": rows[name]["world_a_ppl"], "World A RC EM": rows[name]["rc_em"]}
                           for name in ["closed-book", *arm_names]}).T
forgetting.loc["closed-book"] = [base_world_a["world_a_ppl"], base_world_a["rc_em"]]
forgetting.index = ["base model", *arm_names]
if COURSE:
    lora_ppl, full_ppl = rows["documents, LoRA"]["world_a_ppl"], rows["documents, full"]["world_a_ppl"]
    replay_ppl, no_replay_ppl = rows["mixed, k=10"]["world_a_ppl"], rows["mixed, k=10, no replay"]["world_a_ppl"]
    print(f"documents: LoRA {lora_ppl:.3f}, full {full_ppl:.3f}; mixed k = 10: with replay {replay_ppl:.3f}, without "
          f"{no_replay_ppl:.3f}; base {base_world_a['world_a_ppl']:.3f}")
    claim(model, no_replay_ppl > replay_ppl, f"replaying World A text forgets less: World A perplexity "
          f"{replay_ppl:.3f} with replay vs {no_replay_ppl:.3f} without, same arm and budget")
else:
    print(f"base {base_world_a['world_a_ppl']:.3f}; the arm without replay was not trained on this model (claim not "
          "measured)")
forgetting.round(3)

# %% [markdown]
# Replay is what holds the model together: the same arm, the same budget, without replay, ends with a World A
# perplexity about 18 times the base model's and reads none of its World A passages; with replay, perplexity rises by
# a third and reading falls from 1.00 to 0.43. Replay is not free: the arm without it spent every token on the facts
# and states more of them closed-book (section 4), the trade a practitioner makes knowingly. The arms with budgets of
# their own trained without replay: `question wordings`, at full fine-tuning's rate, wrecked World A (perplexity
# above 100), a warning for the shortcut practitioners take most. At the same rate and budget, LoRA forgets less than
# full fine-tuning (2.57 against 3.09 for the documents), and learns far less (section 4's table).
#
# **Adding a fact, in the same units.** With RAG: chunk the new document, add it to BM25 and to a dense index
# (embedding it with all-MiniLM-L6-v2), timed here. With fine-tuning: the one-fact update of section 6, timed here
# too (on another model: its command's record); and the sweep's twenty-fact update of the k = 10 arm, per fact (timed
# on the machine of the sweep, one thread). Both in seconds and in tokens processed.

# %%
embedder = load_embedder()
bm25, dense = BM25Retriever(chunk_documents(facts.docs)), DenseRetriever(chunk_documents(facts.docs), embedder)
add_times = []
for copy in range(3):  # the fastest of three additions: a pause of the machine is not the method's cost
    start = time.perf_counter()
    new_chunks = chunk_documents([new_doc | {"doc_id": f"product-new-{copy}"}])
    bm25.add(new_chunks)
    dense.add(new_chunks)
    add_times.append(time.perf_counter() - start)
add_seconds = min(add_times)
embed_tokens = len(embedder.tokenizer(new_doc["text"])["input_ids"])
cost = {"RAG: index one document (here)": {"seconds": add_seconds, "tokens processed": embed_tokens}}
if COURSE:
    cost.update({
        "fine-tuning: the memorised model, one changed document (section 6, here)": {
            "seconds": update["update_seconds"], "tokens processed": update["update_tokens"]},
        "fine-tuning: the k = 10 arm, 20 changed documents, per fact (the sweep)": {
            "seconds": ft_change["update_seconds"] / len(targets),
            "tokens processed": ft_change["update_tokens"] / len(targets)}})
    # Both live times are measured here, on this machine, so their ratio does not depend on how fast it is.
    ratio = update["update_seconds"] / add_seconds
    print(f"indexing one document took {1000 * add_seconds:.0f} ms; fine-tuning the memorised model on it took "
          f"{update['update_seconds']:.1f} s (section 6, on this machine)")
    claim(model, ratio >= 10 and update["update_tokens"] >= 10 * embed_tokens,
          "adding a fact costs far less with RAG: at least 10x less time and 10x fewer tokens processed")
else:
    arm = rows[both_arm]  # what teaching its 70 documents cost this model, from its record
    cost[f"fine-tuning: {both_arm}, 70 documents, per document (its record)"] = {
        "seconds": arm["train_seconds"] / len(facts.trained_docs), "tokens processed": arm["tokens"] / len(
            facts.trained_docs)}
    one = rows.get("memorised questions", {}).get("one_fact_update")
    if one:  # its command's one-fact update of the memorised arm (section 6); tokens do not depend on the machine
        cost["fine-tuning: the memorised arm, one changed document (its record)"] = {
            "seconds": one["update_seconds"], "tokens processed": one["update_tokens"]}
        claim(model, one["update_tokens"] >= 10 * embed_tokens,
              "adding a fact costs far less with RAG: at least 10x fewer tokens processed (the time is another run's)")
    print(f"indexing one document took {1000 * add_seconds:.0f} ms; the one-fact update "
          + ("is its command's (section 6)" if one else "was not run on this model"))
pd.DataFrame(cost).T[["tokens processed"]].round(0)

# %% [markdown]
# **Per query and on disk.** A RAG query pays for retrieval and for a longer prompt; a fine-tuned model pays
# nothing per query but stores its change: a LoRA adapter, or a whole new copy of the weights.

# %%
start = time.perf_counter()
answer_questions(model, tokenizer, [r["question"] for r in eval_qa], max_new_tokens=injection.answer_tokens(tokenizer))
closed_seconds = time.perf_counter() - start
per_query_ms = {"closed-book": 1000 * closed_seconds / len(eval_qa), "RAG": 1000 * rag_seconds / len(eval_qa)}
print(f"per question: closed-book {per_query_ms['closed-book']:.0f} ms, RAG {per_query_ms['RAG']:.0f} ms "
      "(retrieval and reading, batched)")
storage = pd.DataFrame({
    "prompt tokens per query": {"closed-book / fine-tuned": prompt_tokens["closed-book"],
                                "RAG": prompt_tokens["RAG (BM25, top 1)"]},
})
sizes = pd.DataFrame({name: {"trainable parameters": rows[name]["trainable"],
                             "saved MB": rows[name]["saved_bytes"] / 2**20}
                      for name in (("documents, LoRA", "documents, full", "mixed, k=10", "RAFT reader") if COURSE
                                   else arm_names)}).T
sizes["trainable parameters"] = sizes["trainable parameters"].astype(int)
display(storage.round(1))
sizes.round(2)

# %% [markdown]
# ## 10. Two more options: the whole knowledge base in the context, and abstaining
#
# **Long context.** Why retrieve at all, when a model could read the whole knowledge base with every question?
# Count it:

# %%
doc_tokens = [len(tokenizer(d["text"], add_special_tokens=False)["input_ids"]) for d in facts.docs]
window = context_length(model, tokenizer)
print(f"World B: {len(facts.docs)} documents, {sum(doc_tokens):,} tokens (the {reader_name}'s tokenizer); the "
      f"{reader_name} reads {window} tokens, so at most {window // max(doc_tokens)} to {window // min(doc_tokens)} "
      f"documents fit with a question: {sum(doc_tokens) / window:.1f}x too many")

# %% [markdown]
# The course model cannot do it: the most it can read is the gold document and about four look-alikes, and
# section 8 measured what that does to it (the "gold + up to 4" column). A long-context model changes the
# arithmetic, not the question: the whole base then costs about 14,000 prompt tokens on every query (against about
# 110 with one retrieved document, section 9), and readers are known to lose facts in the middle of long contexts
# (Liu et al., 2024, "Lost in the middle"). **Not measured here**: a reader with a window of 16k tokens or more.
#
# **Abstaining.** A RAG system should say "I don't know" when its knowledge base holds nothing that answers, and
# retrieval gives it a signal: the score of the best match. To measure it we need questions that cannot be
# answered: the evaluation questions asked of an index **without the evaluation half's 30 documents**, next to the
# same questions asked of the full index. The threshold is chosen on the validation questions the same way (their
# documents removed, and not), to separate the two best; then it is applied to the evaluation questions.

# %%
def top_bm25_scores(docs: list[dict], rows: list[dict]) -> np.ndarray:
    """The BM25 score of the best chunk for each question, over an index of ``docs``."""
    _, scores = BM25Retriever(chunk_documents(docs)).search([r["question"] for r in rows], 1)
    return np.asarray(scores)[:, 0]


def without(removed: list[dict]) -> list[dict]:
    return [d for d in facts.docs if d not in removed]


valid_ok, valid_none = top_bm25_scores(facts.docs, facts.valid_qa), top_bm25_scores(without(facts.valid_docs),
                                                                                    facts.valid_qa)
candidates = np.unique(np.concatenate([valid_ok, valid_none]))
balanced = [(np.mean(valid_ok >= t) + np.mean(valid_none < t)) / 2 for t in candidates]
threshold = float(candidates[int(np.argmax(balanced))])
eval_ok, eval_none = top_bm25_scores(facts.docs, facts.eval_qa), top_bm25_scores(without(facts.eval_docs),
                                                                                 facts.eval_qa)
abstain = {"answers when the document is there": float(np.mean(eval_ok >= threshold)),
           "abstains when it is not": float(np.mean(eval_none < threshold))}
print(f"threshold chosen on validation: BM25 score {threshold:.2f}")
for what, share in abstain.items():
    print(f"  {what}: {share:.3f} of the evaluation questions")
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.hist([eval_ok, eval_none], bins=30, label=["document in the index", "document removed"], color=["tab:green",
                                                                                                   "tab:gray"])
ax.axvline(threshold, c="k", ls="--", label="threshold (from validation)")
ax.set(xlabel="BM25 score of the best match", ylabel="questions", title="evaluation questions")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Without a threshold, the reader answers whatever it is given: asked with the best of the wrong documents, it
# still produces an answer, and every one of them is wrong.

# %%
# NBVAL_TOLERANCE 0.01: rates over 266 greedy answers may move by two answers on another CPU
no_answer = injection.reading_em(model, tokenizer, eval_qa,
                                 retrieve_passages(BM25Retriever(chunk_documents(without(facts.eval_docs))),
                                                   [r["question"] for r in eval_qa], 1))
answered = np.mean([len(a.strip()) > 0 for a in answer_with_passages(
    model, tokenizer, [r["question"] for r in facts.eval_qa[:40]], retrieve_passages(
        BM25Retriever(chunk_documents(without(facts.eval_docs))), [r["question"] for r in facts.eval_qa[:40]], 1))])
print(f"documents removed: exact match {no_answer['em']:.3f}; an answer was given to {answered:.3f} of the first 40 "
      "questions")
claim(model, abstain["abstains when it is not"] >= 0.8 and abstain["answers when the document is there"] >= 0.8,
      f"a BM25 score threshold chosen on validation abstains on {abstain['abstains when it is not']:.3f} of the "
      f"unanswerable questions and answers {abstain['answers when the document is there']:.3f} of the answerable "
      "ones (both >= 0.8)")

# %% [markdown]
# The threshold separates the two cases well: about four in five answerable questions are answered (0.81, just
# above the bar we set) and almost every unanswerable one is refused. Without it the reader answered every
# question whose document was missing, and got 0.06 right, by luck of look-alike documents sharing a value. The
# cost is the answerable questions whose best match scored low, refused though their document was there: a
# threshold trades one error for the other, and validation questions like your users' are how to set it. A reranker
# or the reader's own confidence are the next signals to try; not measured here.
#
# ## 11. Results
#
# One table: every arm, the same evaluation questions. Exact match and multiple choice are closed-book for the
# fine-tuned arms and with the retrieved passage for RAG; "with RAG" is the arm's model reading RAG's passage.

# %%
table = pd.DataFrame({name: {
    "EM lexical": rows[name]["em_lexical"], "EM paraphrased": rows[name]["em_paraphrased"], "MC": rows[name]["mc"],
    "EM with RAG": rows[name]["rag_em"], "World A ppl": rows[name]["world_a_ppl"],
    "trainable": rows[name].get("trainable", 0), "train s": rows[name].get("train_seconds", 0),
} for name in ["closed-book", *arm_names]}).T
table.loc["RAG (BM25, top 1)"] = [rag_scores["em_lexical"], rag_scores["em_paraphrased"], rag_scores["mc"],
                                  rag_scores["em"], base_world_a["world_a_ppl"], 0, 0]
if not COURSE:
    print(f"RAG's row: the first {N_EVAL} questions, answered live; the other rows: all {len(facts.eval_qa)}, from "
          f"the arms' record")
table.astype(float).round(3)

# %% [markdown]
# The headline numbers go to `results/05_finetune_or_rag.json`, next to those lessons 02 to 04 wrote; the decision
# guide below is built from these files.

# %%
if COURSE:  # another model's numbers are its commands' records in results/smollm2/
    rag_interval = stats.interval(rag_scores["hits"])
    save_results("05_finetune_or_rag", {
        "closed_book_em": live["closed-book"]["em"], "closed_book_mc": live["closed-book"]["mc"],
        "rag_em": rag_scores["em"], "rag_em_low": rag_interval[1], "rag_em_high": rag_interval[2],
        "rag_em_paraphrased": rag_scores["em_paraphrased"], "rag_mc": rag_scores["mc"],
        "docs_lora_em": rows["documents, LoRA"]["em"], "docs_full_em": rows["documents, full"]["em"],
        "docs_full_mc": rows["documents, full"]["mc"],
        "mixed_k1_mc": rows["mixed, k=1"]["mc"], "mixed_k10_mc": rows["mixed, k=10"]["mc"],
        "mixed_k1_em": rows["mixed, k=1"]["em"], "mixed_k10_em": rows["mixed, k=10"]["em"],
        "mixed_k10_em_gain_low": gain_em[1], "mixed_k10_mc_gain_low": gain_mc[1],
        "mixed_k10_rag_em": rows["mixed, k=10"]["rag_em"], "mixed_k10_rag_gain_low": both_gain[1],
        "mixed_k10_no_replay_rag_em": rows["mixed, k=10, no replay"]["rag_em"],
        "mixed_k10_no_replay_em": rows["mixed, k=10, no replay"]["em"],
        "mixed_k10_lora_em": rows["mixed, k=10, LoRA"]["em"],
        "mixed_k10_em_seed_min": min(seed_em), "mixed_k10_em_seed_max": max(seed_em),
        "best_ft_em": rows[best_ft]["em"], "rag_minus_best_ft": gap[0], "rag_minus_best_ft_low": gap[1],
        "rag_minus_best_ft_high": gap[2],
        "wordings_em": rows["question wordings"]["em"],
        "wordings_em_paraphrased": rows["question wordings"]["em_paraphrased"],
        "memorised_em_trained_wording": mem["em_lexical"], "memorised_em_reworded": mem["em_paraphrased"],
        "plain_reader_gold_2": plain["gold_2"], "raft_reader_gold_2": raft["gold_2"],
        "plain_reader_gold_0": plain["gold_0"], "raft_reader_gold_0": raft["gold_0"],
        "plain_reader_gold_4": plain["gold_4"],
        "raft_control_gold_2": control["gold_2"], "raft_minus_control_gold_2": raft_vs_control[2][0],
        "raft_minus_control_gold_2_low": raft_vs_control[2][1], "raft_minus_control_gold_2_high": raft_vs_control[2][2],
        "raft_minus_control_gold_4": raft_vs_control[4][0], "raft_minus_control_gold_4_low": raft_vs_control[4][1],
        "raft_minus_control_gold_4_high": raft_vs_control[4][2], "raft_minus_plain_gold_2_low": raft_vs_plain[1],
        "weak_reader_rag_em": weak["rag"], "weak_reader_rc_em": rows["weaker reader"]["rc_em"],
        "course_reader_rag_em": plain["rag"],
        "docs_lora_world_a_ppl": lora_ppl, "docs_full_world_a_ppl": full_ppl,
        "mixed_k10_world_a_ppl": replay_ppl, "mixed_k10_no_replay_world_a_ppl": no_replay_ppl,
        "base_world_a_ppl": base_world_a["world_a_ppl"],
        "ft_update_fact_seconds": update["update_seconds"], "ft_update_fact_tokens": update["update_tokens"],
        "ft_update_per_fact_tokens_20": ft_change["update_tokens"] / len(targets),
        "ft_update_unchanged_em_before": ft_change["unchanged_em_before"],
        "ft_update_unchanged_em_after": ft_change["unchanged_em_after"],
        "changed_facts_rag_new": rag_new, "changed_facts_ft_new": ft_new, "changed_facts_ft_old": ft_old,
        "changed_facts_rag_minus_ft_new": new_gap[0], "changed_facts_rag_minus_ft_new_low": new_gap[1],
        "changed_facts_rag_minus_ft_new_high": new_gap[2],
        "rag_add_fact_tokens": embed_tokens, "rag_add_fact_seconds": add_seconds,
        "rag_prompt_tokens": prompt_tokens["RAG (BM25, top 1)"],
        "closed_book_prompt_tokens": prompt_tokens["closed-book"],
        "rag_ms_per_query": per_query_ms["RAG"], "closed_book_ms_per_query": per_query_ms["closed-book"],
        "world_b_tokens": sum(doc_tokens), "context_tokens": window,
        "abstain_answerable_answered": abstain["answers when the document is there"],
        "abstain_unanswerable_abstained": abstain["abstains when it is not"],
    }, model)
else:
    save_results("05_finetune_or_rag", {"rag_em": rag_scores["em"]}, model)  # says why nothing is written

# %% [markdown]
# ## 12. The decision guide
#
# Each row's evidence is read from the results files that lessons 02 to 05 wrote when they ran (`results/`), never
# typed; the same table is [`docs/decision_guide.md`](../docs/decision_guide.md), written by
# `python -m ftrag.course.guide`, and a test fails when that page and the files disagree. Each verdict carries the
# rule it follows from (`NN:key` is lesson NN's recorded value, in brackets): `decision.table()` raises, and the
# guide is not written, while a rule fails, so a rerun whose numbers no longer support a verdict cannot leave it
# standing. The last row is one the numbers changed: it used to say "LoRA rather than full fine-tuning", which
# holds at one learning rate and not at equal forgetting (lesson 03's sweep).

# %%
from ftrag import decision  # noqa: E402

for row in decision.table().itertuples():
    print(f"{row.Index + 1:>2}. {row.situation}\n    -> {row.do}\n    evidence: {row.evidence}\n"
          f"    follows because: {row.rule}\n")

# %% [markdown]
# ```mermaid
# flowchart TD
#     A[What must the model gain?] --> B{A format or behaviour?}
#     B -- "only valid syntax" --> N1[Neither: constrained decoding]
#     B -- "format and content" --> F1[Fine-tune with LoRA]
#     A --> C{A dialect or house style?}
#     C -- yes --> F2[Fine-tune: continued pretraining]
#     A --> D{Facts?}
#     D -- "new, many, or changing" --> R1[Retrieve: RAG]
#     R1 --> E{Reader confused by look-alike passages?}
#     E -- yes --> BOTH[Both: RAFT-train the reader, retrieve fewer passages]
#     E -- "reader too weak even with the gold passage" --> N2[Neither: a bigger model]
# ```
#
# (JupyterLab and GitHub draw this chart; Colab shows its source, and the page on GitHub shows the picture.)
#
# In one sentence: **fine-tune for how the model writes, retrieve for what it must know**; train the reader when
# retrieval serves it look-alikes, and change the model when it cannot read at all.
#
# **The claims the course set out to test.** Each claim practitioners repeat gets a verdict from the numbers by the
# rules in `ftrag/seed_claims.yaml` (supported, contradicted, or undecided when neither rule holds); the guide's
# page shows the same table with the evidence:

# %%
seed_claims = decision.claims_table(links=False)
for entry in seed_claims:
    print(f"{entry['verdict']:>17}: {entry['claim']}")
tally = collections.Counter(entry["verdict"] for entry in seed_claims)
assert (tally["cannot decide"], tally["contradicts"]) == (1, 0), f"the verdicts changed ({dict(tally)}): " \
    "rewrite the paragraph below"

# %% [markdown]
# One of them the numbers do not decide: the dialect's higher-order part (fine-tuning learned the memo's type, a
# retrieval filtered on the header read more of the priority, and on 100 memos neither wins by more than the
# noise). None is contradicted now. One verdict changed when the fine-tuning arms were tuned: "retrieval on top of
# the fine-tuned model boosts it" was contradicted while the arm trained at one learning rate without replay (its
# training took its reading away, 0.451 with RAG against 0.447 without); tuned on validation and with replay, RAG
# adds about 0.12 to it, the interval above zero. The claim holds, and still the best way to state these facts is
# the untrained model with retrieval (0.865).

# %% [markdown]
# ## 13. A real model reads the same questions
#
# Every number above is the course model's. The course's real model, SmolLM2-135M-Instruct (`load_model("smollm2")`,
# prompted in its chat template), read the same evaluation questions with the same passages (RAG's top document;
# the gold document among the same look-alikes), by one command: `python -m ftrag.course.real_facts` (its record:
# `results/smollm2/05_finetune_or_rag.json`). Its window is 8,192 tokens, so it can also read most of World B at
# once: the gold document with as many others as fit. It answers in sentences, so the run scores whether the reply
# contains the answer (and exact match and token F1 beside it). Seven of section 4's fine-tuning arms were trained on
# it too, by another command (after the reading table).

# %%
real_run = json.loads((repo_root() / "results" / "smollm2" / "05_finetune_or_rag.json").read_text())
rows = real_run["rows"]
print(f"SmolLM2: {real_run['budget']['n_questions']} questions ({rows['long_context']['n']} with most of World B), "
      f"{real_run['threads']} threads on {real_run['cpu']}, {real_run['date']}; World B is "
      f"{real_run['world_b_tokens']:,} of its tokens, its window {real_run['context_tokens']:,}")
pd.DataFrame({name: {"answer contained": rows[arm]["contains"], "exact match": rows[arm]["strict_em"],
                     "token F1": rows[arm]["token_f1"], "prompt tokens": rows[arm]["prompt_tokens"],
                     "ms per query": rows[arm]["ms_per_query"], "questions": rows[arm]["n"]}
              for name, arm in [("closed-book", "closed_book"), ("RAG: BM25, top document", "rag"),
                                ("gold document alone", "gold_0"), ("gold among 2 look-alikes", "gold_2"),
                                ("gold among 4 look-alikes", "gold_4"),
                                ("gold among most of World B", "long_context")] if arm in rows}).T.round(3)

# %% [markdown]
# **What the real reader shows.** Closed-book it knows none of these facts, and with RAG's document its reply
# contains the answer about two times in three, as often as with the gold document itself: the facts-in-context
# half of this lesson carries over. So does the reader's weakness to look-alikes, more so: two look-alike documents
# beside the gold one cost it about a third of its answers. Two numbers change with a real model. Its chat
# template's instruction and worked example cost about 90 tokens on every query, so RAG's extra passage only
# doubles the prompt instead of multiplying it by five. And its window holds two thirds of World B: the gold
# document among most of the base is a real option for it, read worse than one retrieved document and at many
# times the tokens and the time per query (the last row).
#
# **Fine-tuning the facts into the real model.** `python -m ftrag.course.real_injection` trained seven of section 4's
# arms on SmolLM2, each at one learning rate (no grid of its own). Two with LoRA (rank 16, every linear layer, the
# course model's LoRA rate 3e-3): `mixed, k=10, LoRA` (ten renderings of every document plus the train half's
# question/answer pairs, in the model's chat format, and a quarter of World A replay) and `documents, LoRA`
# (continued pretraining on the 70 documents). Five with full fine-tuning at 1e-4, a tenth of the course model's
# rate (a pretrained model's weights are not those of a model trained from scratch on one world): `documents, full`,
# `memorised questions` (the 133 lexical evaluation questions, their own strings), `question wordings` (3-5 other
# wordings of every evaluated and validation fact), and the paraphrase curve's two ends, `mixed, k=1` and
# `mixed, k=10` (one or ten renderings of every document plus the question/answer pairs, with replay). The k = 10
# arm then took section 6's twenty changed facts: a third of its steps on their new documents, as the course
# model's update. The budget is a tenth of the course model's, because SmolLM2
# trains at about 100-150 tokens per second on 2 cores: the text arms read 60 steps of 4 blocks of 256 tokens (61k
# tokens, about one pass over the mixed arm's text), the question arms 60 steps of 16 chat examples (about 90k
# tokens: every example carries the chat template's instruction and worked example). Each arm but the memorised one
# kept its best step on the validation questions (scored every 30 steps), and every row, the untrained model first,
# was scored on all 266 evaluation questions, closed-book and reading RAG's top document (the same passage as
# section 3). The untrained row and the first three arms ran on 2 threads, the others on one beside other work, so
# their training times compare only roughly:

# %%
real_arms = json.loads((repo_root() / OTHER_MODEL["SWEEP_FILE"]).read_text())
arm_rows = injection.record_rows(real_arms, facts.eval_qa)
row_minutes = sum((row.get("arm_seconds_to_trained") or 0) + row["score_seconds"]
                  for row in real_arms["rows"].values()) / 60
print(f"{real_arms['command']}\n{real_arms['cpu']}, last run {real_arms['date']}; the rows took {row_minutes:.0f} min "
      f"to train and score (each row's training time below); an answer counts when the reply contains it")
real_fact_arms = [n for n in arm_rows if n != "closed-book" and injection.ARMS[n]["data"] in ("texts", "wordings")]
real_best = max(real_fact_arms, key=lambda n: arm_rows[n]["em"])  # memorised questions aside, as in section 4
real_gap = stats.paired_difference(arm_rows["closed-book"]["rag_hits"], arm_rows[real_best]["em_hits"])
real_mixed = "mixed, k=10, LoRA"  # the arm with question/answer pairs in its text: does it read better?
real_both = stats.paired_difference(arm_rows[real_mixed]["rag_hits"], arm_rows["closed-book"]["rag_hits"])
print(f"RAG (the untrained model reading BM25's top document) minus the best arm, {real_best}, closed-book: "
      f"{stats.shown(real_gap)}")
print(f"{real_mixed} reading the same passage minus the untrained reader: {stats.shown(real_both)}")
if {"mixed, k=1", "mixed, k=10"} <= set(arm_rows):  # the paraphrase curve's two ends, full fine-tuning
    real_curve = stats.paired_difference(arm_rows["mixed, k=10"]["em_hits"], arm_rows["mixed, k=1"]["em_hits"])
    print(f"mixed, k = 10 minus k = 1, closed-book: {stats.shown(real_curve)}")
real_update = real_arms["rows"].get("mixed, k=10", {}).get("update")
if real_update:  # section 6's twenty changed facts, on this model's k = 10 arm
    asked = len(real_update["questions"])
    print(f"twenty changed facts ({asked} questions), the new value after the change: RAG "
          f"{real_update['rag_after']['new'] / asked:.3f}, the k = 10 arm after {real_update['steps']} steps "
          f"({real_update['update_tokens']:,} tokens) {real_update['after']['new'] / asked:.3f} (the old value "
          f"{real_update['after']['old'] / asked:.3f}); its other {real_update['unchanged_n']} questions "
          f"{real_update['unchanged_em_before']:.3f} -> {real_update['unchanged_em_after']:.3f}")
if "memorised questions" in arm_rows:
    m = arm_rows["memorised questions"]
    print(f"memorised questions: the trained wording {m['em_lexical']:.3f}, the same facts reworded "
          f"{m['em_paraphrased']:.3f}")
    one = m.get("one_fact_update")
    if one:  # section 6's one changed price, on this model's memorised arm
        print(f"one changed price ({one['old']} -> {one['new']}), the memorised arm after {one['steps']} steps of "
              f"{one['batch_size']} blocks ({one['update_tokens']:,} tokens, {one['update_seconds']:.0f} s): "
              f"new value in {one['counts_after']['new']} of {len(one['questions'])} answers, the old value in "
              f"{one['counts_after']['old']} (before: {one['counts_before']['old']}); log p(new) - log p(old) "
              f"{one['preference_after']}")
pd.DataFrame({name: {"method": row.get("method", "-"), "lr": row.get("lr") or "-", "budget": row["budget"],
                     "closed-book": round(row["em"], 3), "lexical": round(row["em_lexical"], 3),
                     "reworded": round(row["em_paraphrased"], 3), "with RAG's passage": round(row["rag_em"], 3),
                     "MC": round(row["mc"], 3), "World A ppl": round(row["world_a_ppl"], 1),
                     "kept step": row.get("selected_step") or "-", "train s": round(row.get("train_seconds") or 0)}
              for name, row in arm_rows.items()}).T

# %% [markdown]
# **What the real model's arms show.** At this budget fine-tuning states few of the facts closed-book: 0.05 to 0.07
# after the documents, LoRA or full, and 0.15 after other wordings of every question, the best fact arm (the
# validation curves were still rising at the last step, so longer runs would state more). RAG on the untrained model
# is far ahead, the interval of the gap far above zero: the headline of section 4 carries over. So does the lesson of
# the memorised questions: trained on the 133 lexical questions' own strings, the model states 0.68 of them and 0.23
# of the same facts reworded. Three things differ from the course model. The mixed arm **reads better** than the
# untrained model: its question/answer pairs taught it to answer with the bare value, so RAG's passage on top of it
# gives more right answers (the second interval above), where the course model lost reading to its training.
# Continued pretraining on the raw documents with LoRA at 3e-3 **broke the instruct model's reading** (it answers
# RAG's questions by writing more document-like text; World A reading falls to zero), while full fine-tuning on the
# same documents at 1e-4 kept most of it (0.61 with RAG's passage against the untrained 0.65). The two runs differ in
# method and in learning rate, so this does not say which of the two kept the reading; neither rate was tuned. And the
# wordings arm reads RAG's passage worse than the untrained model (0.38 against 0.65): trained to answer without a
# passage, it reads one less well. The World A perplexity column does not measure
# forgetting here: SmolLM2 never read World A, and replay taught it.
#
# **The paraphrase curve and the update, at the floor.** With full fine-tuning at this budget, ten renderings per
# document state no more facts than one (about 0.01 each, the interval of the difference around zero): at a tenth of
# the course model's tokens neither arm stored enough to state, so the curve's claim is not measured here so much as
# out of reach. The same holds for the update: after the twenty changed documents the arm gives neither the new nor
# the old value, while RAG gives the new one to 0.70 of the questions the moment the documents are replaced; and the
# arm had almost nothing to forget on the other questions (0.01 before). These rows say what a short run on a real
# model does, not what a long one would. The RAFT arms were not run on it.
#
# **One fact, on the memorised arm.** Section 6's single changed price did take on the real model: the memorised arm
# gave neither the old nor the new price before (trained on the first wording's own string with the old price, it still
# answered another one), and after the course model's 10 steps on the new document's renderings (4 blocks a step here:
# about 9k tokens, under two minutes on one thread) it gives the new price to both wordings, preferring it to the old by
# about 10 nats (scored in the course's plain prompt, as its multiple choice). Two questions are an anecdote, as on the
# course model; the twenty facts above are the measurement, and there a third of the arm's steps, about 1k tokens per
# fact, changed none. What the one fact cost is what the decision guide compares with RAG's: 9k tokens trained on,
# against the 55 RAG embeds to add the same document.
#
# Row by row, the guide evaluates each rule on the real model's numbers (containment for its reading): a row
# carries over when every clause that could be measured holds.

# %%
real_numbers = decision.real_values()
for i, (_, do, _, rule) in enumerate(decision.ROWS, 1):
    verdict = decision.carries_over_text(rule, real_numbers).replace("**", "")
    print(f"{i:>2}. {do.replace('**', '')[:80]}\n    -> {verdict}")

# %% [markdown]
# ## What we measured, and what this does not show
#
# **Measured here**, on the course model and one fixed fact set, with every fine-tuning run's learning rate and
# step chosen on validation documents: RAG states new facts that fine-tuning on the same documents stores but cannot
# state; paraphrases plus question/answer examples make fine-tuned facts stateable, more with more paraphrases, and
# still below RAG by more than the interval (at each of three training seeds); trained question strings do not
# survive rewording, several wordings per fact do, and still trail RAG; twenty changed facts were taken up about as
# well by a short training run as by replacing documents, but the run cost a minute and a half and facts it was not
# about; replaying World A text keeps the model reading, at a price in facts learned; at one learning rate LoRA
# forgets less than full fine-tuning and learns far less; a reader trained among distractors reads look-alikes
# better, more than a reader trained on the gold passage alone; a retrieval-score threshold lets RAG abstain. A real
# 135M reader (section 13) gains as much from RAG and is hurt more by look-alikes; its 8k window holds most of the
# knowledge base, read worse and at many times the cost of one retrieved document.
#
# **What this does not show.** A 4.2M-parameter model on a synthetic world is not a 7B model on your documents.
# The literature reports the same direction at scale: Ovadia et al. (2024) measured RAG at 0.875 against about 0.5
# for fine-tuning with paraphrases on new current-events facts, and Allen-Zhu & Li (2023) showed that knowledge
# becomes extractable when it is seen in varied forms. Larger readers handle long, noisy contexts far better than
# ours (lesson 04), so the RAFT gain may be smaller for them, and how much a larger model forgets at these learning
# rates was not measured here. One fact set is shown; the intervals are over questions, and only the strongest arm
# was trained with three seeds (the others once). Full fine-tuning's learning rate is the top of its grid. The only
# long-context reader measured is a 135M one, and seven arms ran on a real model, at a tenth of the budget and one
# untuned learning rate each.
# Exact match against one gold string is strict.
#
# **On a real model.** Section 13's numbers were measured on SmolLM2-135M-Instruct by `python -m
# ftrag.course.real_facts` (the reading arms and the weaker reader) and `python -m ftrag.course.real_injection` (seven
# arms, LoRA and full, on the documents, their renderings and on questions, the twenty-fact update and the one-fact
# update; the time of each is in its record). With `FTRAG_MODEL=smollm2` this notebook runs on it from top to bottom:
# the live cells score the first 40 evaluation questions, sections 4 to 6 read that model's own arms and updates, and
# the cells that need an arm only the course model has (the grid, the seeds, the full paraphrase curve, RAFT) say so
# and skip; section 13 shows that model's curve ends and both updates.
#
# **Next:** the lab [`labs/05_finetune_or_rag.ipynb`](../labs/05_finetune_or_rag.ipynb): the multiple-choice
# scorer, RAFT-style training examples, the paraphrase experiment's training text, the cost of one new fact, a
# reading curve you measure as look-alikes are added, and a paired bootstrap that turns the lesson's comparisons into
# verdicts.
#
# Then lesson 06 ([`notebooks/06_your_own_documents.ipynb`](06_your_own_documents.ipynb)): the same method,
# closed-book against RAG against the oracle with the cost of fine-tuning beside them, on a folder of your own
# documents.
