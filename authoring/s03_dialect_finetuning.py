# notebook: solutions/03_dialect_finetuning.ipynb
# %% [markdown]
# # Lab 03 · A company dialect: measuring what training and context teach
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/03_dialect_finetuning.ipynb)
#
# Four exercises on the measurements of lesson 03. Fill in each blank (a function body that raises
# `NotImplementedError`), run the cell, then run the check below it.
#
# **Time:** about 40 minutes.
# **Prerequisites:** lesson [03 · A company dialect](../notebooks/03_dialect_finetuning.ipynb).

# %% colab-install

# %%
import json

from ftrag.files import read_examples
from ftrag.lm import load_model
from ftrag.paths import repo_root
from ftrag.retrieval import BM25Retriever, Chunk

model, tokenizer = load_model("course-lm", device="cpu")
memos = read_examples("dialect", "valid.txt")

# %% [markdown]
# ## Exercise 1: perplexity over a span
#
# Lesson 03 scored a memo with other memos in front of it, counting the memo's tokens only. Write
# `span_perplexity(model, tokenizer, context, text)`: build one row of token ids, the tokenizer's BOS
# (`tokenizer("")["input_ids"]`), then the context's tokens, then the text's tokens and the EOS id (encode context
# and text separately, with `add_special_tokens=False`); run the model once; return `exp` of the mean negative
# log-likelihood of the **text's tokens and the EOS** only. Logits at position `i` predict the token at `i + 1`.

# %%
import math

import torch
import torch.nn.functional as F


def span_perplexity(model, tokenizer, context: str, text: str) -> float:
    """Perplexity of text's tokens (and the EOS after them) given BOS + context; the context is not scored."""
    ### BEGIN SOLUTION
    bos = tokenizer("")["input_ids"]
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"] if context else []
    body = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = torch.tensor([bos + ctx + body])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    nll = F.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")
    return math.exp(nll[-len(body):].mean().item())
    ### END SOLUTION


# %%
from ftrag.check.l03 import check_span_perplexity

check_span_perplexity(span_perplexity)

# %% [markdown]
# ## Exercise 2: packing
#
# Continued pretraining packs documents: each text's tokens (no BOS), each preceded by an EOS id, joined into one
# stream, then one final EOS; the stream is cut into blocks of `block_size` tokens (the last block may be shorter;
# drop a last block of a single token). Return the blocks as lists of ids. Then the question lesson 03 asked: what
# share of the texts lies whole inside one block (all of its own tokens in the same block)?

# %%
def pack(tokenizer, texts: list[str], block_size: int) -> list[list[int]]:
    """The packed blocks of token ids."""
    ### BEGIN SOLUTION
    stream: list[int] = []
    for text in texts:
        stream += [tokenizer.eos_token_id] + tokenizer(text, add_special_tokens=False)["input_ids"]
    stream.append(tokenizer.eos_token_id)
    blocks = [stream[i:i + block_size] for i in range(0, len(stream), block_size)]
    return [b for b in blocks if len(b) >= 2]
    ### END SOLUTION


def share_whole(tokenizer, texts: list[str], block_size: int) -> float:
    """Share of texts whose tokens (first to last) all lie inside one block of the packed stream."""
    ### BEGIN SOLUTION
    position, whole = 0, 0
    for text in texts:
        n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        first, last = position + 1, position + n  # after the EOS at `position`, the text's n tokens
        whole += first // block_size == last // block_size
        position = last + 1
    return whole / len(texts)
    ### END SOLUTION


# %%
from ftrag.check.l03 import check_packing

check_packing(pack, share_whole)

# %% [markdown]
# ## Exercise 3: a retrieved context
#
# Build lesson 03's RAG-style context for one memo: search `retriever` (BM25 over training memos) with the memo's
# first two lines, take the `k` best memos, and return their texts joined by a blank line (`"\n\n"`), **most
# similar last** (nearest the memo), followed by one more blank line. `retriever.search([query], k)` returns
# `(ids, scores)`, best first; `retriever.chunks[i].text` is a memo.

# %%
def memo_context(retriever, memo: str, k: int) -> str:
    """The k most similar memos, most similar last, each followed by a blank line."""
    ### BEGIN SOLUTION
    ids, _ = retriever.search(["\n".join(memo.split("\n")[:2])], k)
    return "\n\n".join(retriever.chunks[int(i)].text for i in ids[0][::-1]) + "\n\n"
    ### END SOLUTION


# %%
from ftrag.check.l03 import check_memo_context

pool = [Chunk(f"memo-{i}", f"memo-{i}", "", "memo", m, 0, 1)
        for i, m in enumerate(read_examples("dialect", "train.txt.xz")[:2000])]
check_memo_context(memo_context, BM25Retriever(pool))

# %% [markdown]
# ## Exercise 4: choose a run from the sweep
#
# Lesson 03's sweep (`results/03_forgetting_sweep.json`) trained LoRA at ranks 1, 4 and 16 and full fine-tuning at
# several learning rates. You may let World A perplexity rise by at most `max_rise` (relative: 0.05 means 5% above
# the base model's). Write `choose_run(rows, max_rise)`: among the trained rows (method `"lora"` or `"full"`) that
# stay within it, return the one with the lowest dialect perplexity (the row dict itself), or `None` if none does.

# %%
def choose_run(rows: list[dict], max_rise: float) -> dict | None:
    """The trained row with the lowest dialect_ppl whose world_a_ppl is within max_rise of the base row's."""
    ### BEGIN SOLUTION
    base = next(r for r in rows if r["method"] == "base")
    allowed = [r for r in rows if r["method"] != "base" and r["world_a_ppl"] <= base["world_a_ppl"] * (1 + max_rise)]
    return min(allowed, key=lambda r: r["dialect_ppl"]) if allowed else None
    ### END SOLUTION


# %%
from ftrag.check.l03 import check_choose_run

check_choose_run(choose_run)
sweep_rows = json.loads((repo_root() / "results" / "03_forgetting_sweep.json").read_text())["rows"]
for rise in (0.01, 0.05, 0.25):
    pick = choose_run(sweep_rows, rise)
    name = f"LoRA r {pick['rank']}" if pick["method"] == "lora" else "full fine-tuning"
    print(f"World A may rise {rise:.0%}: {name}, lr {pick['lr']:g} -> dialect perplexity {pick['dialect_ppl']:.1f}, "
          f"World A {pick['world_a_ppl']:.2f}")

# %% [markdown]
# Which run would you ship for a company that also needs the model's general reading? The numbers above are the
# argument: the tighter the World A budget, the lower the learning rate it allows, and the less dialect is learned
# in the same steps. On this small model the winner under a tight budget is full fine-tuning at a low learning rate,
# not a low LoRA rank: compare the sweep's rows at equal World A perplexity, not at equal learning rate.
