# notebook: solutions/01_autoregressive_prediction.ipynb
# %% [markdown]
# # Lab 01 · Autoregressive prediction
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/01_autoregressive_prediction.ipynb)
#
# Four exercises on the mechanics of lesson 01, then two experiments. Fill in each blank (a function body that
# raises `NotImplementedError`), run the cell, then run the check below it. In an experiment the check tests your
# method on a case with a known answer; what the measurement on the course model means is for you to say.
#
# **Time:** about 21 minutes. **Prerequisites:** lesson [01 · Autoregressive prediction](../notebooks/01_autoregressive_prediction.ipynb).

# %% colab-install

# %%
import math

import torch
import torch.nn.functional as F

from ftrag.lm import load_model, perplexity

model, tokenizer = load_model("course-lm", device="cpu")


# %% [markdown]
# ## Exercise 1: sampling with temperature and top-p
#
# Write `sample_next_token(logits, temperature, top_p, generator)`: divide the logits (shape `(V,)`) by the
# temperature, keep only the most likely tokens whose cumulative probability reaches `top_p` (always at least the
# most likely one), and draw one token id with `torch.multinomial(..., generator=generator)`. Return a Python `int`.

# %%
def sample_next_token(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> int:
    """One token id drawn from softmax(logits / temperature), restricted to the top-p nucleus."""
    ### BEGIN SOLUTION
    probs = torch.softmax(logits / temperature, dim=-1)
    sorted_probs, order = torch.sort(probs, descending=True)
    before = sorted_probs.cumsum(-1) - sorted_probs  # probability mass ranked above each token
    sorted_probs[before >= top_p] = 0.0  # the nucleus: stop once top_p is reached
    choice = torch.multinomial(sorted_probs / sorted_probs.sum(), 1, generator=generator)
    return int(order[choice])
    ### END SOLUTION


# %%
from ftrag.check.l01 import check_sample_next_token

check_sample_next_token(sample_next_token)


# %% [markdown]
# ## Exercise 2: perplexity from logits
#
# Given the logits a model produced for a sequence (shape `(T, V)`) and the sequence's token ids (shape `(T,)`),
# return the perplexity: the exponential of the mean negative log-likelihood of each token given the ones before it.
# Careful with the shift: position `t` predicts token `t + 1`.

# %%
def perplexity_from_logits(logits: torch.Tensor, ids: torch.Tensor) -> float:
    """exp(mean NLL) of ids[1:] under logits[:-1]."""
    ### BEGIN SOLUTION
    return math.exp(F.cross_entropy(logits[:-1], ids[1:]).item())
    ### END SOLUTION


# %%
from ftrag.check.l01 import check_perplexity_from_logits

check_perplexity_from_logits(perplexity_from_logits)


# %% [markdown]
# ## Exercise 3: the most surprising text
#
# Write `most_surprising(model, tokenizer, texts)`: return the index of the text with the highest perplexity under
# the model (use `perplexity` from `ftrag.lm`, one text at a time). The check tries a World A sentence, a dialect
# memo header and a simple story.

# %%
def most_surprising(model, tokenizer, texts: list[str]) -> int:
    """Index of the text the model finds most surprising (highest perplexity)."""
    ### BEGIN SOLUTION
    scores = [perplexity(model, tokenizer, [t]) for t in texts]
    return max(range(len(texts)), key=scores.__getitem__)
    ### END SOLUTION


# %%
from ftrag.check.l01 import check_most_surprising

check_most_surprising(most_surprising)


# %% [markdown]
# ## Exercise 4: a generation loop with a stop token
#
# Write `generate_until_stop(model, ids, stop_id, max_new_tokens)`: greedy decoding from `ids` (shape `(1, T)`),
# one token at a time, stopping right after the model emits `stop_id` (include it) or after `max_new_tokens`.
# Return the list of new token ids. The check compares with `model.generate`, stopping at a newline.

# %%
def generate_until_stop(model, ids: torch.Tensor, stop_id: int, max_new_tokens: int) -> list[int]:
    """New token ids from greedy decoding, up to and including stop_id."""
    ### BEGIN SOLUTION
    new = []
    for _ in range(max_new_tokens):
        with torch.no_grad():
            next_id = int(model(ids).logits[0, -1].argmax())
        new.append(next_id)
        ids = torch.cat([ids, torch.tensor([[next_id]])], dim=1)
        if next_id == stop_id:
            break
    return new
    ### END SOLUTION


# %%
from ftrag.check.l01 import check_generate_until_stop

check_generate_until_stop(generate_until_stop)

# %% [markdown]
# ## Exercise 5: what temperature and top-p do to the draws (an experiment)
#
# One draw tells you little; many draws show the distribution you sample from. Write
# `draw_counts(logits, temperature, top_p, n, seed)`: make one `torch.Generator` seeded with `seed`, draw `n`
# tokens with your `sample_next_token` (the same generator for every draw), and return how often each token id came
# up, as a list of `len(logits)` ints.

# %%
def draw_counts(logits: torch.Tensor, temperature: float, top_p: float, n: int, seed: int) -> list[int]:
    """counts[i] = how many of n draws (one generator seeded with seed) gave token i."""
    ### BEGIN SOLUTION
    generator = torch.Generator().manual_seed(seed)
    counts = [0] * len(logits)
    for _ in range(n):
        counts[sample_next_token(logits, temperature, top_p, generator)] += 1
    return counts
    ### END SOLUTION


# %%
from ftrag.check.l01 import check_draw_counts

check_draw_counts(draw_counts, sample_next_token)

# %% [markdown]
# Now the course model's next token after the start of a World A biography, 500 draws per setting. The cell prints
# the share of the token drawn most often and the entropy of the draws (in nats: 0 when every draw is
# the same token, higher the more the draws spread).

# %%
# NBVAL_TOLERANCE 0.02: shares of 500 draws; logits that move in their last bits on another CPU can flip a draw
prompt_ids = tokenizer("Celia Reilly works as a", return_tensors="pt")["input_ids"]
with torch.no_grad():
    next_logits = model(prompt_ids).logits[0, -1]
for temperature in (0.5, 1.0, 1.5):
    for top_p in (1.0, 0.9):
        counts = torch.tensor(draw_counts(next_logits, temperature, top_p, 500, seed=0), dtype=torch.float)
        shares = counts[counts > 0] / counts.sum()
        entropy = -(shares * shares.log()).sum().item()
        print(f"T={temperature:.1f} top_p={top_p:.1f}: the most drawn token has {shares.max().item():.3f} of the "
              f"draws; entropy of the draws {entropy:.3f} nats")

# %% [markdown]
# Which knob changes the spread more here, temperature or top-p? Look at what the model's distribution after
# "works as a" must look like: would the same settings behave the same way after a prompt whose next token is
# nearly certain (try `"Celia Reilly was born in"`, or one of your own)?

# %% [markdown]
# ## Exercise 6: does more context make tokens easier? (an experiment)
#
# Perplexity averages over every token of a text. Split it by position instead: write `token_losses(model, ids)`,
# the loss (negative log-likelihood, in nats) of every token `ids[0, 1:]` given all the tokens before it, as a
# tensor of shape `(T - 1,)` for `ids` of shape `(1, T)`.

# %%
def token_losses(model, ids: torch.Tensor) -> torch.Tensor:
    """NLL of each token ids[0, t] given ids[0, :t], for t = 1 .. T-1; shape (T - 1,)."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        logits = model(ids).logits[0]  # (T, V)
    return F.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")
    ### END SOLUTION


# %%
from ftrag.check.l01 import check_token_losses

check_token_losses(token_losses)

# %% [markdown]
# Now 40 World A biographies the model never saw in pretraining (`data/world_a/heldout.txt`), each scored on its
# own, with the losses averaged by the position of the predicted token.

# %%
from ftrag.files import data_path

biographies = data_path("world_a", "heldout.txt").read_text().split("\n\n")[:40]
buckets = {"1-4": (1, 4), "5-16": (5, 16), "17-48": (17, 48), "49+": (49, 10**6)}
by_bucket = {name: [] for name in buckets}
for text in biographies:
    losses = token_losses(model, tokenizer(text, return_tensors="pt")["input_ids"])
    for position, loss in enumerate(losses.tolist(), start=1):  # position t: the token predicted from t tokens
        by_bucket[next(n for n, (lo, hi) in buckets.items() if lo <= position <= hi)].append(loss)
for name, losses in by_bucket.items():
    print(f"tokens predicted from {name:>5} tokens of context: {len(losses):>4} tokens, "
          f"mean loss {sum(losses) / len(losses):.3f} nats")

# %% [markdown]
# How does the loss change with the context a token is predicted from? Which tokens of a biography do you think
# make the difference (print `token_losses` of one biography next to its tokens to find out)? What would you expect
# for a text whose later sentences have nothing to do with its first ones?

# %% [markdown]
# ## Done
#
# Six ticks? You can now sample, score and generate by hand, and measure what sampling and context do. Next: lesson
# [02 · JSON-format fine-tuning](../notebooks/02_json_finetuning.ipynb).
