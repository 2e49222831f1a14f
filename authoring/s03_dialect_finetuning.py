# notebook: solutions/03_dialect_finetuning.ipynb
# %% [markdown]
# # Lab 03 · A company dialect: measuring what training and context teach
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/03_dialect_finetuning.ipynb)
#
# Five exercises on the measurements of lesson 03; the last two are decisions you make from numbers you measure.
# Fill in each blank (a function body that raises `NotImplementedError`, or a value left as `...`), run the cell,
# then run the check below it.
#
# **Time:** about 19 minutes.
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
# **Reflect:** which run would you ship for a company that also needs the model's general reading, and under which
# budget? Does a low LoRA rank protect World A better than a low learning rate does? Compare the sweep's rows at
# equal World A perplexity, not at equal learning rate, and say what the numbers above support.
#
# ## Exercise 5: which half of the header does a retrieved context need? (an experiment)
#
# Lesson 03 found that four memos of the same type **and** priority in the context teach the base model the
# closing line far better than the most similar memos. Which half of that filter does the work? A memo's header
# reads `ID :: TYPE :: PRIORITY :: week :: department`. Write `header_fields(memo)` (`{"type": ..., "priority":
# ...}`) and `filtered_context(pool, memo, keep, k)`: lesson 03's context (BM25 on the memo's first two lines, the
# `k` best, most similar last, each followed by a blank line) built only from the pool memos whose header agrees
# with the memo's on every field in `keep` (a tuple: `()`, `("type",)`, `("priority",)` or both).


# %%
from ftrag.retrieval import BM25Retriever, Chunk

measured: dict = {}  # the experiment below fills it: {keep: closing-line EM}


def header_fields(memo: str) -> dict[str, str]:
    """The type and the priority in a memo's header line."""
    ### BEGIN SOLUTION
    parts = [p.strip() for p in memo.split("\n", 1)[0].split("::")]
    return {"type": parts[1], "priority": parts[2]}
    ### END SOLUTION


def filtered_context(pool: list[str], memo: str, keep: tuple[str, ...], k: int) -> str:
    """The k most similar pool memos among those that share the memo's header fields in keep, most similar last."""
    ### BEGIN SOLUTION
    want = header_fields(memo)
    kept = [m for m in pool if all(header_fields(m)[f] == want[f] for f in keep)]
    retriever = BM25Retriever([Chunk(f"m{i}", f"m{i}", "", "memo", m, 0, 1) for i, m in enumerate(kept)])
    ids, _ = retriever.search(["\n".join(memo.split("\n")[:2])], k)
    return "\n\n".join(kept[int(i)] for i in ids[0][::-1]) + "\n\n"
    ### END SOLUTION


# %%
from ftrag.check.l03 import check_filtered_context, check_header_fields

check_header_fields(header_fields)
check_filtered_context(filtered_context, [c.text for c in pool])

# %% [markdown]
# The experiment: the base model picks the closing line of 40 test memos (lesson 03's task, scored per token) with
# four memos in front, filtered on nothing, on the type, on the priority, or on both. Write down what you expect
# before you run it (about 10 s per setting).

# %%
from ftrag.lm import exact_match
from ftrag.tasks import dialect

test_memos = read_examples("dialect", "test.txt")[:40]
heads, closings = dialect.split_memos(test_memos)
pool_texts = [c.text for c in pool]
for keep in ((), ("type",), ("priority",), ("type", "priority")):
    contexts = [filtered_context(pool_texts, memo, keep, 4) for memo in test_memos]
    picks = dialect.closing_picks(model, tokenizer, heads, contexts)["per token"]
    measured[keep] = exact_match(picks, closings)
    print(f"filter on {' and '.join(keep) or 'nothing':>17}: closing-line EM {measured[keep]:.2f}")

# %% [markdown]
# Which field, filtered on alone, helps more? Set `field` to `"type"` or `"priority"` from your numbers.

# %%
field = "type" if measured[("type",)] >= measured[("priority",)] else "priority"  # SOLUTION

# %%
from ftrag.check.l03 import check_field_choice

check_field_choice(field, measured)

# %% [markdown]
# **Reflect:** why might one field help more than the other, given where the type and the priority show in a memo
# (lesson 03, section 7)? The both-fields filter makes the right phrase the only one in the context: why does the
# model still miss some? What would you filter on in your own documents, and how would you find out?
