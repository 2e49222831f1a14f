# notebook: solutions/01_autoregressive_prediction.ipynb
# %% [markdown]
# # Lab 01 · Autoregressive prediction
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/01_autoregressive_prediction.ipynb)
#
# Four exercises on the mechanics of lesson 01. Fill in each blank (a function body that raises
# `NotImplementedError`), run the cell, then run the check below it.
#
# **Time:** about 30 minutes. **Prerequisites:** lesson [01 · Autoregressive prediction](../notebooks/01_autoregressive_prediction.ipynb).

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
# ## Done
#
# Four ticks? You can now sample, score and generate by hand. Next: lesson
# [02 · JSON-format fine-tuning](../notebooks/02_json_finetuning.ipynb).
