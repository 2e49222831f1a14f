# notebook: solutions/00_start_here.ipynb
# %% [markdown]
# # Lab 00 · Start here
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/00_start_here.ipynb)
#
# Three small exercises that show how every lab in this course works: fill in the blank (a function body that raises
# `NotImplementedError`, or an answer written as `...`), run the cell, then run the check cell below it. A check
# says what is wrong in words; a green tick means done.
#
# **Time:** 10 minutes. **Prerequisites:** lesson [00 · Start here](../notebooks/00_start_here.ipynb).

# %% colab-install


# %% [markdown]
# ## Exercise 1: count characters
#
# The course model was pretrained on a corpus without a single `{`, `}`, `[`, `]` or `"`. In the world tour you will
# count them; first write the counter. `count_chars(text, chars)` returns how many characters of `text` are in
# `chars`.

# %%
def count_chars(text: str, chars: str) -> int:
    """How many characters of `text` are one of `chars`."""
    ### BEGIN SOLUTION
    return sum(ch in chars for ch in text)
    ### END SOLUTION


# %%
from ftrag.check.l00 import check_count_chars

check_count_chars(count_chars)

# %% [markdown]
# ## Exercise 2: reproducible randomness
#
# Write `reproducible_draw(seed)`: seed everything with `seed_everything`, then return three random numbers from
# `torch.rand` as a list of Python floats. The same seed must give the same list.

# %%
import torch

from ftrag import seed_everything


def reproducible_draw(seed: int) -> list[float]:
    """Three uniform random numbers that depend only on `seed`."""
    ### BEGIN SOLUTION
    seed_everything(seed)
    return torch.rand(3).tolist()
    ### END SOLUTION


# %%
from ftrag.check.l00 import check_reproducible_draw

check_reproducible_draw(reproducible_draw)

# %% [markdown]
# ## Exercise 3: which device?
#
# Set `device` to the device the course will run on here (one call to a function from `ftrag`).

# %%
from ftrag import get_device

device = get_device()  # SOLUTION

# %%
from ftrag.check.l00 import check_device

check_device(device)

# %% [markdown]
# ## Done
#
# All three ticks? Then you know how labs work. Next: lesson
# [01 · Autoregressive prediction](../notebooks/01_autoregressive_prediction.ipynb).
