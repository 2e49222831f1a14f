# notebook: notebooks/03_dialect_finetuning.ipynb
# %% [markdown]
# # 03 · A company dialect: continued pretraining vs putting the documents in the context
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/notebooks/03_dialect_finetuning.ipynb)
#
# Quorvenex, the company of World B, writes its internal memos and tickets in a shorthand of its own: codes with
# internal structure (`TQ-2574-RX`), fixed word order (`STAT: ... / OWN: ... / ETA: ...`), collocations that only
# make sense once learned (`akkd zyv` + the owner's initials), and a closing line fixed by the memo's type *and*
# priority. The course model has never read a word of it. Can retrieval teach the model this dialect, by pasting
# similar memos into the prompt? Or does the model have to be trained on it?
#
# **You will learn**
# - to find what a model does not know by its per-token loss (where it is surprised);
# - to measure perplexity on a text's own tokens with other text in front of it (the RAG-style context);
# - continued pretraining with LoRA: packing documents into blocks, and why the block length matters;
# - forgetting: what training on the dialect costs on World A, for LoRA at ranks 1, 4 and 16 and full fine-tuning;
# - a completion task that makes the difference concrete: closing a memo with the phrase the rule requires.
#
# **Time:** about 40 minutes (the notebook's own run time, measured on a 2-core CPU,
# is in the [README's lesson table](../README.md#lessons)).
# **Prerequisites:** [01 · Autoregressive prediction](01_autoregressive_prediction.ipynb) (perplexity) and
# [02 · JSON-format fine-tuning](02_json_finetuning.ipynb) (LoRA, the training loop).

# %% colab-install

# %% [markdown]
# ## Parameters
#
# `MODEL_NAME` selects the model. On Colab, a hub id (e.g. `"HuggingFaceTB/SmolLM2-135M"`) reruns the lesson on a
# real model; the long-run adapter of section 6 belongs to the course model, so on another model the live run of
# section 4 stands in for it, and the claims are reported rather than asserted.

# %% tags=["parameters"]
MODEL_NAME = None  # None: the course model (or $FTRAG_MODEL); a hub id or a local folder also works
SEED = 0  # every random draw starts from this seed
N_TEST = 200  # test memos for perplexity (the sweep's number)
N_RAG = 100  # test memos for the RAG-style contexts (section 3)
N_CLOSING = 100  # test memos for the closing-line task
POOL = 5000  # training memos the retriever searches
N_WORLD_A = 100  # held-out World A texts, and reading questions, each model is scored on (what it may forget)
STEPS, BATCH, LR = 40, 4, 1e-3  # the live runs: 40 steps of 4 blocks of 512 tokens (the recorded sweep's budget)
# Another model ($FTRAG_MODEL=smollm2: 135M parameters, ~30x the course model's time per token on a CPU) uses these
# smaller samples and runs instead, so that the lesson still runs in minutes on 2 cores; its claims are reported,
# not asserted. Its full measurement is `python -m ftrag.course.real_dialect` (section 9).
OTHER_MODEL = {"N_TEST": 30, "N_RAG": 15, "N_CLOSING": 15, "N_WORLD_A": 20, "STEPS": 8, "BATCH": 2}
SWEEP_FILE = "results/03_forgetting_sweep.json"  # written by `python -m ftrag.course.forgetting` (section 5)
ADAPTER = "dialect-lora"  # the long run shipped in data/models/ (section 6)

# %%
import json
import random
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ftrag import seed_everything
from ftrag.claims import claim, is_course_model
from ftrag.files import read_examples
from ftrag.lm import context_perplexity, exact_match, generate, load_model, perplexity, token_losses
from ftrag.paths import data_path, repo_root
from ftrag.results import save_results
from ftrag.retrieval import BM25Retriever, Chunk
from ftrag.tasks import dialect
from ftrag.train import lm_examples, load_adapter
from ftrag.world.memos import CLOSING, closing_line, split_closing

seed_everything(SEED)
model, tokenizer = load_model(MODEL_NAME, device="cpu")
if not is_course_model(model):
    N_TEST, N_RAG, N_CLOSING, N_WORLD_A, STEPS, BATCH = (
        OTHER_MODEL[k] for k in ("N_TEST", "N_RAG", "N_CLOSING", "N_WORLD_A", "STEPS", "BATCH"))
    print(f"{model.name_or_path}: the parameters cell's smaller samples, {OTHER_MODEL}")
# Another model's runs recompute their activations in the backward pass (gradient checkpointing): the same gradients
# and losses, a second forward pass, and GBs less memory (a 135M model's activations for blocks of 512 tokens)
CHECKPOINT = not is_course_model(model)
train_memos = read_examples("dialect", "train.txt.xz")
valid_memos = read_examples("dialect", "valid.txt")
test_memos = read_examples("dialect", "test.txt")[:N_TEST]
n_tokens = sum(len(tokenizer(m)["input_ids"]) for m in train_memos[:300]) / 300
print(f"memos: {len(train_memos):,} train, {len(valid_memos)} validation, {len(test_memos)} test (of 500); "
      f"~{n_tokens:.0f} tokens each, ~{n_tokens * len(train_memos) / 1e6:.1f}M training tokens")
print("\n\n".join(test_memos[:2]))

# %% [markdown]
# ## 1. Meet the dialect
#
# The glossary (`data/dialect/glossary.md`, written by the same code that generates the memos) explains every
# term. The rule that matters most for this lesson is the last line:

# %%
glossary = data_path("dialect", "glossary.md").read_text()
rule = glossary[glossary.index("## closing_line_rule"):glossary.index("Invented terms")]
print(rule.strip())
print("\nthe first test memo's header:", test_memos[0].split("\n")[0], "->", closing_line(test_memos[0]))

# %% [markdown]
# Where is the course model surprised? Below, the loss (in nats) of every token of a test memo given everything
# before it. Words of World A cost little; the dialect's words, codes and the closing line cost a lot.

# %%
tokens, losses = token_losses(model, tokenizer, test_memos[0])
fig, ax = plt.subplots(figsize=(11, 3))
ax.bar(range(len(losses)), losses, color=["tab:red" if v > 6 else "tab:blue" for v in losses])
ax.set_xticks(range(len(tokens)), [t.replace("\n", "⏎") for t in tokens], rotation=90, fontsize=6)
ax.set(ylabel="loss (nats)", title="the base model's loss on each token of a memo (red: above 6 nats)")
plt.tight_layout()
plt.show()
worst = sorted(zip(losses, tokens, strict=True), reverse=True)[:8]
print("most surprising tokens:", ", ".join(f"{t!r} {v:.1f}" for v, t in worst))

# %% [markdown]
# ## 2. Baseline
#
# Three numbers describe a model for this lesson, and we will measure them for every model we make:
# - **dialect perplexity** on the test memos (how well it predicts the dialect);
# - **World A perplexity** on held-out World A text (what it knew before; it should not get worse);
# - **World A reading-comprehension exact match** on `N_WORLD_A` (100) `rc_test.jsonl` questions with their passage.

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
start = time.perf_counter()
base_scores = dialect.forgetting_scores(model, tokenizer, n_test=N_TEST, n_heldout=N_WORLD_A, n_rc=N_WORLD_A)
score_seconds = time.perf_counter() - start
print(f"base model: dialect perplexity {base_scores['dialect_ppl']:,.0f}, World A perplexity "
      f"{base_scores['world_a_ppl']:.2f}, reading comprehension EM {base_scores['rc_em']:.2f} "
      f"(scored in {score_seconds:.0f} s)")

# %% [markdown]
# The dialect's perplexity is above the course model's vocabulary size (4,096 tokens), so it is worse than a
# uniform guess over the vocabulary, which would score 4,096. The model is not merely unsure: it is confidently
# wrong, betting on what World A text would say next. World A perplexity is near 2: that is the text it was
# trained on.
#
# ## 3. RAG-style context: paste similar memos in front
#
# Retrieval's answer to a new dialect is to show the model examples. For each test memo we retrieve the most
# similar training memos with BM25 (lesson 04), querying with the memo's first two lines (what a writer has when
# starting a memo), and put 1, 2 or 4 of them in front of it, the most similar one nearest (4 memos and the test memo
# fill the model's 512-token window; the oldest context tokens are dropped when they do not fit). We then measure
# perplexity on **the memo's own tokens only**: the context is given, not scored. An *unfocused* variant pastes
# 4 random memos instead.

# %%
pool = [Chunk(f"memo-{i}", f"memo-{i}", "", "memo", text, 0, 1) for i, text in enumerate(train_memos[:POOL])]
retriever = BM25Retriever(pool)


def retrieved_contexts(memos, k):
    """For each memo, its k most similar pool memos (by its first two lines), most similar last, then a blank line."""
    ids, _ = retriever.search(["\n".join(m.split("\n")[:2]) for m in memos], k)
    return ["\n\n".join(pool[j].text for j in row[::-1]) + "\n\n" for row in ids]


rng = random.Random(SEED)
rag_memos = test_memos[:N_RAG]
contexts = {"no context": None}
contexts.update({f"BM25 top {k}": retrieved_contexts(rag_memos, k) for k in (1, 2, 4)})
contexts["4 random memos"] = ["\n\n".join(rng.sample(train_memos[:POOL], 4)) + "\n\n" for _ in rag_memos]
rag_ppl = {name: context_perplexity(model, tokenizer, rag_memos, ctx) for name, ctx in contexts.items()}
same_rule = np.mean([closing_line(c.split("\n\n")[-2]) == closing_line(m)
                     for c, m in zip(contexts["BM25 top 1"], rag_memos, strict=True)])
fig, ax = plt.subplots(figsize=(7, 3))
ax.barh(list(rag_ppl)[::-1], list(rag_ppl.values())[::-1], color="tab:orange")
ax.set(xscale="log", xlabel="dialect perplexity of the memo's own tokens (log scale)",
       title=f"similar memos in the context (base model, {N_RAG} test memos)")
plt.tight_layout()
plt.show()
for name, value in rag_ppl.items():
    print(f"{name:>15}: {value:9,.1f}  ({base_scores['dialect_ppl'] / value:4.1f}x lower than without context)")
print(f"the top memo closes with the same phrase as the test memo for {same_rule:.0%} of the memos")

# %% [markdown]
# Similar memos help: the model copies the dialect's words from its context (lesson 01's reading ability, used
# here). Random memos help less than similar ones. Keep the best number in mind for the next section.
#
# ## 4. Continued pretraining with LoRA
#
# Continued pretraining is next-token prediction on the new text, exactly like pretraining: every token is a
# target. The memos are **packed**: joined into one stream (an end-of-text token between them) and cut into blocks,
# so no step is spent on padding. How long the blocks are matters more than it seems. A memo is about 155 tokens
# and its closing line depends on its header; a block shorter than the memo never holds both, so no training step
# could teach the rule:

# %%
ids = [tokenizer(m, add_special_tokens=False)["input_ids"] for m in train_memos[:1000]]
for block in (128, 256, 512):
    position, whole = 0, 0
    for memo in ids:
        first, last = position + 1, position + len(memo)  # the EOS before the memo, then its tokens
        whole += first // block == last // block
        position = last + 1
    print(f"blocks of {block} tokens: {whole / len(ids):.0%} of the memos lie whole inside one block")
examples = lm_examples(tokenizer, train_memos[:10], block_size=512)
print(f"10 memos -> {len(examples)} blocks of up to 512 tokens; a block begins: "
      f"{tokenizer.decode(examples[1]['input_ids'][:24])!r}")

# %% [markdown]
# We train LoRA rank 4 on every linear layer (lesson 02's `lora_model`) for `STEPS` steps of `BATCH` blocks of 512
# tokens, with the perplexity of 30 validation memos measured every 10 steps. `dialect.train_on_memos` is lesson
# 02's training loop with these memos; read it with `dialect.train_on_memos??`.

# %%
valid_small = valid_memos[:30]
header = test_memos[1].split("\n")[0]  # a prompt for samples: a header alone
lora_base, _ = load_model(MODEL_NAME, device="cpu")
before = generate(lora_base, tokenizer, [header + "\n"], max_new_tokens=60, stop_at_newline=False)[0]
lora_model, lora_run = dialect.train_on_memos(
    lora_base, tokenizer, method="lora", rank=4, lr=LR, steps=STEPS, batch_size=BATCH, seed=SEED,
    eval_fn=lambda: perplexity(lora_base, tokenizer, valid_small), eval_every=10, gradient_checkpointing=CHECKPOINT)
print(lora_run.summary().rsplit(";", 1)[0])  # (peak memory varies by machine)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3))
ax1.plot(range(1, len(lora_run.losses) + 1), lora_run.losses)
ax1.set(xlabel="step", ylabel="training loss (nats)", title="LoRA r 4 on the memos")
steps_done, ppls = zip(*lora_run.evals, strict=True)
ax2.plot(steps_done, ppls, "o-")
ax2.set(xlabel="step", ylabel="validation perplexity", yscale="log", title="30 validation memos")
plt.tight_layout()
plt.show()
lora_scores = dialect.forgetting_scores(lora_model, tokenizer, n_test=N_TEST, n_heldout=N_WORLD_A, n_rc=N_WORLD_A)
print(f"dialect test perplexity {base_scores['dialect_ppl']:,.0f} -> {lora_scores['dialect_ppl']:,.1f} "
      f"({base_scores['dialect_ppl'] / lora_scores['dialect_ppl']:,.0f}x lower) after {lora_run.tokens:,} tokens")
after = generate(lora_model, tokenizer, [header + "\n"], max_new_tokens=60, stop_at_newline=False)[0]
print("\nprompt:", header)
print("before:", before.replace("\n", " ⏎ "))
print("after: ", after.replace("\n", " ⏎ "))

# %%
best_rag = min((v, k) for k, v in rag_ppl.items() if k != "no context")
lora_rag_memos = context_perplexity(lora_model, tokenizer, rag_memos)  # the same memos as the contexts
claim(model, base_scores["dialect_ppl"] / lora_scores["dialect_ppl"] >= 3,
      f"LoRA continued pretraining lowers dialect perplexity at least 3x "
      f"({base_scores['dialect_ppl']:,.0f} -> {lora_scores['dialect_ppl']:,.1f})")
claim(model, lora_rag_memos < best_rag[0],
      f"the best RAG-style context ({best_rag[1]}: {best_rag[0]:,.1f} on the first {N_RAG} test memos) lowers it "
      f"less than LoRA ({lora_rag_memos:,.1f} on the same memos)")

# %% [markdown]
# Half a minute of training on a CPU lowered the dialect's perplexity more than any context did. The samples are not
# memos yet: 40 steps teach the dialect's words before its layout (section 6 shows what a long run writes).
#
# ## 5. Forgetting: LoRA ranks and full fine-tuning
#
# Training on the memos changes weights the model uses for World A. How much it forgets depends on how much it is
# allowed to change. Biderman et al. ("LoRA Learns Less and Forgets Less", TMLR 2024) found that LoRA, at the same
# learning rate and data, learns a new domain less than full fine-tuning does and forgets less of the old one. We
# measure it here: full fine-tuning with the same memos, steps and learning rate as the LoRA run above.

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
full_model, _ = load_model(MODEL_NAME, device="cpu")
full_model, full_run = dialect.train_on_memos(full_model, tokenizer, method="full", lr=LR, steps=STEPS,
                                              batch_size=BATCH, seed=SEED, gradient_checkpointing=CHECKPOINT)
full_scores = dialect.forgetting_scores(full_model, tokenizer, n_test=N_TEST, n_heldout=N_WORLD_A, n_rc=N_WORLD_A)
live = pd.DataFrame([{"model": "base", "trained": 0, **base_scores},
                     {"model": f"LoRA r 4, lr {LR:g}", "trained": lora_run.trainable, **lora_scores},
                     {"model": f"full, lr {LR:g}", "trained": full_run.trainable, **full_scores}]).set_index("model")
live.round(3)

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
claim(model, full_scores["world_a_ppl"] > lora_scores["world_a_ppl"],
      f"full fine-tuning raises World A perplexity more than LoRA r 4 does (same memos, steps and lr: "
      f"{full_scores['world_a_ppl']:.2f} vs {lora_scores['world_a_ppl']:.2f}, base {base_scores['world_a_ppl']:.2f})")

# %% [markdown]
# The rank sweep behind the scatter below trains LoRA at ranks 1, 4 and 16 and full fine-tuning, each at several
# learning rates, with the same memos and budget as the two live runs; it takes about 10 minutes, so it is run by
# one command that writes its rows to a committed file:
#
# ```bash
# python -m ftrag.course.forgetting --out results/03_forgetting_sweep.json
# ```
#
# The two live runs above are rows of that sweep: the next cell checks that they agree with the recorded ones, so
# the file describes the code you are running.

# %%
sweep = json.loads((repo_root() / SWEEP_FILE).read_text())
rows = pd.DataFrame(sweep["rows"])
print(f"{len(rows)} rows of the course model, budget {sweep['budget']}; made by: {sweep['command']}")


def recorded(method, rank, lr):
    match = rows[(rows["method"] == method) & (rows["rank"] == rank) & np.isclose(rows["lr"], lr)]
    return match.iloc[0]


if is_course_model(model) and (STEPS, BATCH, SEED) == tuple(sweep["budget"][k] for k in ("steps", "batch_size",
                                                                                          "seed")):
    for name, scores, (method, rank) in (("LoRA r 4", lora_scores, ("lora", 4)), ("full", full_scores, ("full", 0))):
        row = recorded(method, rank, LR)
        for key in ("dialect_ppl", "world_a_ppl"):
            assert abs(scores[key] / row[key] - 1) < 0.05, f"{name} {key}: live {scores[key]:.3f} vs {row[key]:.3f}"
        assert abs(scores["rc_em"] - row["rc_em"]) <= 0.05, f"{name} rc_em: live {scores['rc_em']} vs {row['rc_em']}"
    print("the live LoRA and full runs agree with their recorded rows (perplexities within 5%, EM within 0.05)")

# %%
fig, ax = plt.subplots(figsize=(7, 4.5))
styles = {("lora", 1): ("tab:green", "LoRA r 1"), ("lora", 4): ("tab:blue", "LoRA r 4"),
          ("lora", 16): ("tab:purple", "LoRA r 16"), ("full", 0): ("tab:red", "full fine-tuning")}
for (method, rank), (colour, label) in styles.items():
    group = rows[(rows["method"] == method) & (rows["rank"] == rank)].sort_values("lr")
    ax.plot(group["dialect_ppl"], group["world_a_ppl"], "o-", color=colour, label=label)
    for _, r in group.iterrows():
        ax.annotate(f"{r['lr']:g}", (r["dialect_ppl"], r["world_a_ppl"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
ax.axhline(base_scores["world_a_ppl"], color="grey", ls=":", label="base model, World A")
ax.set(xscale="log", xlabel="dialect perplexity (learned →, lower is better)",
       ylabel="World A perplexity (forgotten ↑)", title=f"learn vs forget, {sweep['budget']['steps']} steps "
                                                          "(labels: learning rate)")
ax.invert_xaxis()
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()
rows.assign(lr=rows["lr"].map(lambda v: f"{v:g}"), trained=rows["trainable"] / rows["trainable"].max())[
    ["method", "rank", "lr", "trained", "dialect_ppl", "world_a_ppl", "rc_em"]].round(3)

# %% [markdown]
# **What the sweep shows.** Read it two ways.
# - *At one learning rate* (the points labelled 0.001), the pattern of Biderman et al. holds: rank 1, 4, 16 and full
#   fine-tuning learn more of the dialect in that order, and forget more of World A in the same order.
# - *At equal forgetting*, the picture turns: full fine-tuning at a low learning rate (1e-4, 3e-4) learns more of the
#   dialect than any LoRA run that leaves World A as intact. On this 4-million-parameter model, LoRA is not a better
#   learn-vs-forget frontier; what it buys is cheapness (2% of the weights trained, a small file per dialect, the
#   base model shared) and less forgetting *at the learning rate you would have used anyway*.
#
# All these runs are 40 steps; the longer a run, the further it moves on both axes (section 6).
#
# ## 6. The long run, and both together
#
# The live runs are short. `data/models/dialect-lora` is LoRA rank 16 trained 50 times longer (2,000 steps, 4M
# tokens, more than one pass over the memos) at a high learning rate (2e-3), with the command in its
# `training.json`. Every 250 steps the run scored the closing line on 100 **validation** memos, and the adapter
# it kept is the checkpoint that scored best there (early stopping; the test memos played no part in the choice).
# Here it is scored like the others, then given the retrieved memos as well: fine-tuning and retrieval together.

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
if is_course_model(model):
    long_model, record = load_adapter(load_model(MODEL_NAME, device="cpu")[0], ADAPTER)
    print(f"{ADAPTER}: {record['command']}")
    print(f"trained {record['train_seconds'] / 60:.0f} min on {record['threads']} thread(s), "
          f"{record['tokens'] / 1e6:.1f}M tokens; kept: step {record['selected_step']} of {record['config']['steps']}, "
          f"the best on the validation memos")
else:
    long_model, record = lora_model, {"train_seconds": lora_run.seconds}  # a hub model: the live run stands in
long_scores = (lora_scores if long_model is lora_model else
               dialect.forgetting_scores(long_model, tokenizer, n_test=N_TEST, n_heldout=N_WORLD_A, n_rc=N_WORLD_A))
long_rag_memos = context_perplexity(long_model, tokenizer, rag_memos)
both_ppl = context_perplexity(long_model, tokenizer, rag_memos, contexts[best_rag[1]])
print(f"long run: dialect perplexity {long_scores['dialect_ppl']:.2f}; on the first {N_RAG} memos "
      f"{long_rag_memos:.2f} alone, {both_ppl:.2f} with {best_rag[1]} in context")
print(f"World A perplexity {base_scores['world_a_ppl']:.2f} -> {long_scores['world_a_ppl']:.2f}, reading "
      f"comprehension EM {base_scores['rc_em']:.2f} -> {long_scores['rc_em']:.2f}")
sample = generate(long_model, tokenizer, [header + "\n"], max_new_tokens=80, stop_at_newline=False)[0]
print(f"\nfrom the header {header!r} the long run writes (glossary: `nxsh wk` + the header's week + 1):\n{sample}")
if record.get("valid_closing_em"):
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.plot(*zip(*record["valid_closing_em"], strict=True), "o-")
    ax.axhline(1 / 12, color="grey", ls=":", label="chance")
    ax.axvline(record["selected_step"], color="tab:green", ls="--", label="kept (best on validation)")
    ax.set(xlabel="training step", ylabel="closing-line EM", ylim=(0, 1), title="the long run, as recorded (100 "
                                                                                 "validation memos)")
    ax.legend()
    plt.tight_layout()
    plt.show()

# %% [markdown]
# ## 7. A completion task: the closing line
#
# Perplexity is an average over every token. A task makes it concrete: given a held-out memo without its last
# line, which of the dialect's twelve closing phrases comes next? The model picks the phrase it finds most likely
# (summed log-probability of its tokens and the end of the memo; `dialect.closing_picks`); chance is 1 in 12. The
# rule (type × priority, both in the header) is in the glossary, and the retrieved memos often show the right
# phrase: the top memo closes with the test memo's phrase for the share printed in section 3.
#
# Before crediting any model, the baselines a reviewer asks for first:
# - **copy the top memo's closing line** (no model at all): what BM25's most similar memo ends with;
# - **retrieval filtered by the header**: only pool memos of the same type and priority, then copy, or put the top 4
#   in front of the base model (a metadata filter, as a search index would apply it);
# - **the glossary's rule table in the context** of the base model;
# - **per-token scores**: a summed log-probability favours short phrases, and every priority-3 phrase is two words
#   where the others are three, so each model is also scored by the mean log-probability per token.

# %%
# NBVAL_TOLERANCE 0.02: rates over 100 greedy answers may move by two answers on another CPU
closing_memos = test_memos[:N_CLOSING]
rag_context = retrieved_contexts(closing_memos, 4) if N_CLOSING > N_RAG else contexts["BM25 top 4"][:N_CLOSING]
truth = [closing_line(m) for m in closing_memos]
cell_of = {phrase: cell for cell, phrase in CLOSING.items()}  # each phrase stands for one (type, priority) pair


def cell_of_memo(memo):
    return tuple(part.strip() for part in memo.split("\n", 1)[0].split("::")[1:3])


# The metadata filter: one BM25 index per (type, priority) cell of the pool.
cells = {cell: [c for c in pool if cell_of_memo(c.text) == cell] for cell in CLOSING}
cell_retrievers = {cell: BM25Retriever(chunks) for cell, chunks in cells.items()}
filtered_context, filtered_top = [], []
for memo in closing_memos:
    r = cell_retrievers[cell_of_memo(memo)]
    ids = r.search(["\n".join(memo.split("\n")[:2])], 4)[0][0]
    filtered_context.append("\n\n".join(r.chunks[j].text for j in ids[::-1]) + "\n\n")
    filtered_top.append(split_closing(r.chunks[ids[0]].text)[1])
bm25_top = [split_closing(pool[row[0]].text)[1]
            for row in retriever.search(["\n".join(m.split("\n")[:2]) for m in closing_memos], 1)[0]]
glossary_context = [rule.strip() + "\n\n"] * len(closing_memos)
heads = dialect.split_memos(closing_memos)[0]
picks = {"copy the top BM25 memo's line": bm25_top, "copy the top same-header memo's": filtered_top}
for name, m, ctx in [("base", model, None), ("base + BM25 top 4", model, rag_context),
                     ("base + same-header top 4", model, filtered_context),
                     ("base + glossary rule", model, glossary_context), ("long run", long_model, None)]:
    both = dialect.closing_picks(m, tokenizer, heads, ctx)  # one pass, both scoring rules
    picks[name], picks[f"{name}, per token"] = both["sum"], both["per token"]
closing = {name: exact_match(chosen, truth) for name, chosen in picks.items()}
fig, ax = plt.subplots(figsize=(7, 4))
ax.barh(list(closing)[::-1], list(closing.values())[::-1],
        color=["tab:grey" if n.startswith("copy") else "tab:green" for n in closing][::-1])
ax.axvline(1 / 12, color="grey", ls=":", label="chance (1/12)")
ax.set(xlim=(0, 1), xlabel=f"closing-line exact match ({N_CLOSING} test memos)",
       title="closing the memo (grey: no model, copied from a retrieved memo)")
ax.legend()
plt.tight_layout()
plt.show()
print("closing-line EM, and the share of picked phrases that belong to the memo's type (chance 25%) and to its "
      "priority (chance 33%):")
for name, chosen in picks.items():
    pairs = [(cell_of[p], cell_of[t]) for p, t in zip(chosen, truth, strict=True)]
    print(f"{name:>36}: EM {closing[name]:.2f}, type {np.mean([p[0] == t[0] for p, t in pairs]):4.0%}, "
          f"priority {np.mean([p[1] == t[1] for p, t in pairs]):4.0%}")

# %%
# NBVAL_TOLERANCE 0.02: rates over 100 greedy answers may move by two answers on another CPU
rag_closing, copy_top = closing["base + BM25 top 4"], closing["copy the top BM25 memo's line"]
share = {name: (np.mean([cell_of[p][0] == cell_of[t][0] for p, t in zip(chosen, truth, strict=True)]),
                np.mean([cell_of[p][1] == cell_of[t][1] for p, t in zip(chosen, truth, strict=True)]))
         for name, chosen in picks.items()}  # (type right, priority right)
best_of = {name: max(closing[name], closing[f"{name}, per token"])  # each method under its better scoring rule
           for name in ("base", "base + BM25 top 4", "base + same-header top 4", "base + glossary rule", "long run")}
claim(model, closing["long run"] > max(closing["base"], rag_closing),
      f"the fine-tuned model's closing-line exact match ({closing['long run']:.2f}) exceeds the base model's "
      f"({closing['base']:.2f}) and the RAG-context's ({rag_closing:.2f})")
claim(model, best_of["long run"] <= copy_top + 0.05,
      f"the long run ({best_of['long run']:.2f}) does no better than copying the top BM25 memo's closing line with no "
      f"model at all ({copy_top:.2f}; a gap within 0.05, 5 memos of 100)")
claim(model, best_of["base + same-header top 4"] >= best_of["long run"] + 0.05,
      f"a search filtered by the header's type and priority, read by the base model "
      f"({best_of['base + same-header top 4']:.2f}), beats the long run ({best_of['long run']:.2f})")
claim(model, share["long run"][0] >= 0.9 and share["long run"][1] <= 0.6,
      f"the long run has learned the type half of the rule (type right {share['long run'][0]:.0%}) and not the "
      f"priority half (priority right {share['long run'][1]:.0%})")
claim(model, closing["base + glossary rule"] <= closing["base"] + 0.05,
      f"the glossary's rule table in the context does not teach the base model the rule "
      f"({closing['base + glossary rule']:.2f} vs {closing['base']:.2f} without it)")

# %% [markdown]
# What each method learns of the type × priority rule, from the shares printed above:
# - **the base model** knows neither half: its picks are near chance on both (25% and 33%).
# - **pasted memos** (BM25 top 4) help it a little, by copying: a phrase in the context becomes likely, but
#   nothing tells the model which one, and the most similar memo shares the test memo's closing line for fewer than
#   half of the memos (section 3). **Copying that memo's line outright**, with no model, does as well as anything
#   trained here.
# - **the metadata filter** is the strongest context: four memos of the same type and priority all end with the
#   right phrase, and the base model, scored per token, picks it for about half the memos. A search index that can
#   filter on the header turns the rule into a lookup (copying from a same-header memo is exact, by construction).
# - **the glossary's rule table** in the context does nothing for this model: a 4.5M-parameter model cannot read
#   a table and apply it; a large instruction-tuned model might.
# - **the long run** has learned the type half of the rule (it always picks a phrase of the memo's type) and not
#   the priority half. The two halves are not equally easy: the type also shows in the body lines (a review request
#   always has a `qrask` line, a blocker a `blokt pndq` line), a few lines above the closing line, while the
#   priority is only in the header, more than a hundred tokens back. Its validation curve (section 6) peaked and
#   fell while World A was being destroyed: more of the same training would not have taught the priority.
# - **per-token scores** matter when phrases differ in length: a sum favours the two-word priority-3 phrases, and
#   dividing by the length changes the picks, most for the base model reading same-header memos.
#
# ## 8. Results
#
# One table, built from the runs above (training time: this machine for the live runs, the recorded time for the
# long run).

# %%
# NBVAL_TOLERANCE 0.01: rates over 200 greedy answers may move by two answers on another CPU
results = pd.DataFrame([
    {"method": "copy the top BM25 memo's closing line", "dialect ppl": np.nan, "World A ppl": np.nan,
     "World A RC EM": np.nan, "closing EM": copy_top, "training": "-"},
    {"method": "base", "dialect ppl": base_scores["dialect_ppl"], "World A ppl": base_scores["world_a_ppl"],
     "World A RC EM": base_scores["rc_em"], "closing EM": closing["base"], "training": "-"},
    {"method": f"RAG-style: {best_rag[1]} ({N_RAG} memos)", "dialect ppl": best_rag[0], "World A ppl": np.nan,
     "World A RC EM": np.nan, "closing EM": rag_closing, "training": "-"},
    {"method": f"LoRA r 4, {STEPS} steps", "dialect ppl": lora_scores["dialect_ppl"],
     "World A ppl": lora_scores["world_a_ppl"], "World A RC EM": lora_scores["rc_em"],
     "closing EM": np.nan, "training": f"{lora_run.seconds:.0f} s"},
    {"method": f"full, {STEPS} steps", "dialect ppl": full_scores["dialect_ppl"],
     "World A ppl": full_scores["world_a_ppl"], "World A RC EM": full_scores["rc_em"], "closing EM": np.nan,
     "training": f"{full_run.seconds:.0f} s"},
    {"method": "long run (dialect-lora)", "dialect ppl": long_scores["dialect_ppl"],
     "World A ppl": long_scores["world_a_ppl"], "World A RC EM": long_scores["rc_em"],
     "closing EM": closing["long run"], "training": f"{record['train_seconds'] / 60:.0f} min"},
    {"method": f"long run + {best_rag[1]} ({N_RAG} memos)", "dialect ppl": both_ppl, "World A ppl": np.nan,
     "World A RC EM": np.nan, "closing EM": np.nan, "training": "-"},
]).set_index("method")
results.round(3)

# %% [markdown]
# The headline numbers go to `results/03_dialect_finetuning.json`, where lesson 05's decision guide reads them:

# %%
save_results("03_dialect_finetuning", {
    "base_dialect_ppl": base_scores["dialect_ppl"], "lora_dialect_ppl": lora_scores["dialect_ppl"],
    "best_rag_context": best_rag[1], "best_rag_context_ppl": best_rag[0], "lora_ppl_same_memos": lora_rag_memos,
    "base_world_a_ppl": base_scores["world_a_ppl"], "lora_world_a_ppl": lora_scores["world_a_ppl"],
    "full_world_a_ppl": full_scores["world_a_ppl"], "full_rc_em": full_scores["rc_em"],
    "closing_em_base": closing["base"], "closing_em_rag": rag_closing, "closing_em_finetuned": closing["long run"],
    "closing_em_copy_top": copy_top, "closing_em_same_header_context": closing["base + same-header top 4"],
    "closing_em_same_header_context_best": best_of["base + same-header top 4"],
    "closing_em_glossary": closing["base + glossary rule"],
    "closing_em_finetuned_per_token": closing["long run, per token"],
    "closing_type_share_finetuned": share["long run"][0], "closing_priority_share_finetuned": share["long run"][1],
    "long_run_selected_step": record.get("selected_step", 0),
}, model)

# %% [markdown]
# ## 9. The same dialect for a real model
#
# The course's real model, SmolLM2-135M-Instruct (`load_model("smollm2")`: 135M parameters, trained on web text,
# none of it in this dialect), was measured the same three ways by one command, `python -m ftrag.course.real_dialect`
# (record: `results/smollm2/03_dialect_finetuning.json`): the test memos' perplexity without context, with 1, 2 or 4
# retrieved memos (or 4 random ones) in front, and after a LoRA run of continued pretraining with this lesson's
# budget (40 steps of 4 blocks of 512 tokens, rank 4). Its perplexities are per token of its own tokenizer: compare
# them with each other, not with the course model's.

# %%
real_run = json.loads((repo_root() / "results" / "smollm2" / "03_dialect_finetuning.json").read_text())
real = real_run["rows"]
print(f"SmolLM2: {real_run['budget']['n_test']} test memos ({real_run['budget']['n_rag']} with contexts), "
      f"{real_run['threads']} thread{'s' if real_run['threads'] > 1 else ''} on {real_run['cpu']}, "
      f"{real_run['date']}; LoRA: "
      f"{real['lora']['tokens']:,} tokens in {real['lora']['train_seconds'] / 60:.0f} min "
      f"({real['lora']['tokens_per_second']:.0f} tokens/s)")
here = "course model" if is_course_model(model) else "this notebook's model, live"  # (FTRAG_MODEL: not the course's)
pd.DataFrame({
    here: {"no context (same memos)": rag_ppl["no context"],
           **{name: rag_ppl[name] for name in ("BM25 top 1", "BM25 top 2", "BM25 top 4", "4 random memos")},
           "after LoRA (same memos)": lora_rag_memos, "World A, base": base_scores["world_a_ppl"],
           "World A, after LoRA": lora_scores["world_a_ppl"]},
    "SmolLM2": {"no context (same memos)": real["base"]["no_context_ppl"],
                **{name: real["contexts"][name] for name in ("BM25 top 1", "BM25 top 2", "BM25 top 4",
                                                             "4 random memos")},
                "after LoRA (same memos)": real["lora"]["same_memos_ppl"],
                "World A, base": real["base"]["world_a_ppl"], "World A, after LoRA": real["lora"]["world_a_ppl"]},
}).round(1)

# %% [markdown]
# **What the real model shows.** The dialect is new to it too: its perplexity on the memos is more than ten times
# its perplexity on World A's stories. The same LoRA budget lowers it by an order of magnitude, as for the course
# model, and costs some World A perplexity. What does not carry over is the comparison with retrieval: four similar
# memos in front of a test memo lower its perplexity further than the LoRA run does, where for the course model
# they did little. A model that has read the web copies a house style from examples in its context (lesson 01's
# in-context reading, at scale), so "fine-tune for a dialect, context helps far less" is a finding about a small
# model trained on one world. What context cannot give is every query paying for four memos, and text that must be
# *written* in the dialect without examples to hand, which the closing-line task measures. (One run of 40 steps at
# one learning rate; perplexities per token of SmolLM2's own tokenizer.)
#
# **The closing line on the real model.** The same command scored section 7's task on the first 100 test memos, with
# the same retrieved memos, the same header filter and both scoring rules. The 40-step LoRA run stands in for the
# long run (trained again for this, with the same seed and blocks: its loss matches the `lora` row's), so the
# fine-tuned row compares a short run on SmolLM2 with the course model's long one.

# %%
# NBVAL_TOLERANCE 0.02: rates over 100 memos may move by two memos on another CPU
CLOSING_ROWS = [  # (section 7's name, the record's row and method)
    ("copy the top BM25 memo's line", "closing", "copy the top BM25 memo's line"),
    ("copy the top same-header memo's", "closing", "copy the top same-header memo's"),
    ("base", "closing", "alone"), ("base + BM25 top 4", "closing", "BM25 top 4"),
    ("base + same-header top 4", "closing", "same-header top 4"), ("base + glossary rule", "closing", "glossary rule"),
    ("long run", "closing, LoRA", "alone")]
real_closing = pd.DataFrame({
    ("fine-tuned (course model: the long run; SmolLM2: 40 LoRA steps)" if name == "long run" else name): {
        f"{here} EM": closing[name], "SmolLM2 EM": real[row][method]["em"],
        "SmolLM2 EM, per token": real[row].get(f"{method}, per token", {}).get("em", np.nan),
        "SmolLM2 type right": real[row][method].get("type_share", np.nan),
        "SmolLM2 priority right": real[row][method].get("priority_share", np.nan)}
    for name, row, method in CLOSING_ROWS}).T.round(2)
print(f"SmolLM2: {real['closing']['n']} test memos; the LoRA run retrained to loss "
      f"{real['closing, LoRA']['final_loss']:.4f} (the lora row: {real['lora']['final_loss']:.4f})")
real_closing

# %% [markdown]
# **What the closing line shows on the real model.** Reading retrieved memos, SmolLM2 copies where the course model
# barely does: 0.53 with BM25's top 4 (the course model 0.19), and all 100 memos right with the top 4 of the same
# type and priority (the course model 0.50 at best). So the metadata filter's verdict carries over, and more
# strongly: a model that copies from its context needs only the right examples in it. Neither model uses the
# glossary's rule table (0.10 against 0.11 alone). The 40-step LoRA run, which lowered the memos' perplexity 18-fold,
# closes no better than the base model (0.07, its types right 27% of the time): 40 steps of 4 blocks teach SmolLM2
# the dialect's words, not yet its rule, where the course model's long run (the step kept was 1,250, 31 times as
# many) learned the type half of it. A longer run on SmolLM2 was not made, so this row says what a short run gives, not what fine-tuning can.
# (One run; 100 memos, so a difference of a few hundredths is a few memos.)

# %% [markdown]
# ## What we measured, and what this does not show
#
# **Measured here:**
# - the dialect is new to the course model: its perplexity is in the thousands, and the surprise sits on the
#   dialect's words, codes and separators;
# - similar memos in the context lower that perplexity 2 to 3 times, random memos less; 40 steps of LoRA lower it
#   far more, and the long run brings it below the perplexity of World A text;
# - training changes the model everywhere, for good and ill: at one learning rate, full fine-tuning and higher LoRA
#   ranks learn more and forget more; at equal forgetting, full fine-tuning learned more here; and a long run at a
#   high learning rate forgets World A almost entirely (catastrophic forgetting: a low rank is no protection);
# - how the data is packed decides what can be learned: blocks shorter than a memo never show a header and its
#   closing line together;
# - on the closing-line task, fine-tuning beats the base model and the retrieved context, and the errors say why:
#   the fine-tuned model picks a phrase of the right type (a pattern a few lines away), but has not learned the
#   priority (a hundred tokens back, in the header); similar memos in the context help the base model a little, by
#   copying;
# - no model here beats the baselines without a model: copying the top retrieved memo's closing line does better,
#   and a search filtered by the header's type and priority makes the rule a lookup (every memo of a cell closes the
#   same way, so copying is exact by construction). When a rule lives in metadata, a filter beats both training and
#   context; the base model does not even copy reliably from four same-header memos, nor use the glossary's table;
# - a real model (SmolLM2-135M-Instruct, section 9) finds the dialect as new, and the same LoRA budget lowers its
#   perplexity by an order of magnitude; but four similar memos in its context lower it further still, and with four
#   memos of the same header in its context it closes every memo right, where the same LoRA run closes almost none.
#
# **What this does not show:** the course model is tiny, and small models are poor in-context learners. A model that
# has read the web picks up much more of the dialect from four similar memos than ours does: section 9 measured the
# gap between context and training close and then reverse for a 135M one (the lesson's point, that context supplies
# examples while training changes what the model predicts everywhere, stands; which one predicts the memos better
# does not). The dialect is synthetic, with crisp rules; real internal jargon is
# messier. We did not try the usual cures for forgetting (mixing general text into the training data, or a lower
# learning rate for longer). The glossary in the context is a table a large instruction-tuned model might apply;
# ours cannot, which says little about such a model. The long run's checkpoint was chosen on 100 validation memos
# every 250 steps: one run, one seed. Perplexity with context was measured on the memo's own tokens, with at most
# 512 tokens in all.
#
# **Next:** the lab [`labs/03_dialect_finetuning.ipynb`](../labs/03_dialect_finetuning.ipynb) (perplexity over a
# span, packing, a retrieved context, choosing a run from the sweep), then lesson
# [04 · Building and measuring a RAG pipeline](04_rag_pipeline.ipynb).
