# notebook: solutions/00_start_here.ipynb
# %% [markdown]
# # Lab 00 · Start here
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/00_start_here.ipynb)
#
# Four small exercises that show how every lab in this course works: fill in the blank (a function body that raises
# `NotImplementedError`, or an answer written as `...`), run the cell, then run the check cell below it. A check
# says what is wrong in words; a green tick means done. The last exercise is an experiment: the check tests your
# method, and what the measurement means is yours to say.
#
# **Time:** about 11 minutes. **Prerequisites:** lesson [00 · Start here](../notebooks/00_start_here.ipynb).

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
# ## Exercise 4: which characters did the model never see? (an experiment)
#
# Lesson 00 grepped the pretraining corpus for five JSON characters. Other characters may be missing too. Write
# `missing_chars(text, alphabet)`: the characters of `alphabet` that never occur in `text`, in `alphabet`'s order
# (each once). The corpus is 50 million characters: build the set of the characters it holds once (`set(text)`)
# rather than searching it once per character.

# %%
def missing_chars(text: str, alphabet: str) -> list[str]:
    """The characters of `alphabet` (in its order, without repeats) that `text` never contains."""
    ### BEGIN SOLUTION
    present = set(text)
    return [ch for ch in dict.fromkeys(alphabet) if ch not in present]
    ### END SOLUTION


# %%
from ftrag.check.l00 import check_missing_chars

check_missing_chars(missing_chars)

# %% [markdown]
# Now the measurement: every printable ASCII character the course model was never trained on. Before you run the
# cell, write down which ones you expect. The second part asks the model itself: a token that was never in the
# corpus was never a target, so its embedding row ends up in one cluster with the row of `{`
# (`untrained_token_ids`, lesson 02 explains why); the cell shows, for each character, whether its token is in it.

# %%
import string

from ftrag.lm import load_model
from ftrag.train import untrained_token_ids
from ftrag.world.separation import pretraining_corpus

corpus = pretraining_corpus()  # the exact 50 MB the course model was trained on
alphabet = string.digits + string.ascii_letters + string.punctuation
missing = missing_chars(corpus, alphabet)
del corpus
print(f"{len(missing)} of {len(alphabet)} printable characters never occur: {''.join(missing)}")
model, tokenizer = load_model("course-lm", device="cpu")
cluster = set(untrained_token_ids(model, tokenizer))
for chars, what in ((missing, "never in the corpus"), ([c for c in alphabet if c not in missing], "in the corpus")):
    ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in chars]
    inside = [c for c, i in zip(chars, ids, strict=True) if len(i) == 1 and i[0] in cluster]
    print(f"{what}: {len(inside)} of {len(chars)} have their token in the untrained cluster: {''.join(inside)}")

# %% [markdown]
# What did you find? Which characters could the course model never write, and how does the count in the corpus line
# up with what the model's own embedding rows say? If lesson 02 had to teach the model to write `(`, what would it
# have to train besides the linear layers?

# %% [markdown]
# ## Done
#
# All four ticks? Then you know how labs work. Next: lesson
# [01 · Autoregressive prediction](../notebooks/01_autoregressive_prediction.ipynb).
