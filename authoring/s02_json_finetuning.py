# notebook: solutions/02_json_finetuning.ipynb
# %% [markdown]
# # Lab 02 · JSON-format fine-tuning
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ftrag-course/fine-tune-or-rag/blob/v0.1.0/solutions/02_json_finetuning.ipynb)
#
# Four exercises on the mechanics of lesson 02. Fill in each blank (a function body that raises
# `NotImplementedError`), run the cell, then run the check below it.
#
# **Time:** about 40 minutes.
# **Prerequisites:** lesson [02 · JSON-format fine-tuning](../notebooks/02_json_finetuning.ipynb).

# %% colab-install

# %%
import json

import jsonschema
import torch

from ftrag.lm import load_model
from ftrag.tasks.json_output import load_schema

model, tokenizer = load_model("course-lm", device="cpu")
schema = load_schema()

# %% [markdown]
# ## Exercise 1: parse rate and schema-valid rate
#
# Given a list of model outputs (strings) and the schema, return `(parse_rate, schema_valid_rate)`: the share of
# outputs that `json.loads` accepts (after stripping surrounding whitespace), and the share that parse **and**
# validate against the schema (`jsonschema.validate` raises `jsonschema.ValidationError` when they do not).

# %%
def json_validity(outputs: list[str], schema: dict) -> tuple[float, float]:
    """(share of outputs that parse as JSON, share that parse and are valid under the schema)."""
    ### BEGIN SOLUTION
    parsed, valid = 0, 0
    for text in outputs:
        try:
            value = json.loads(text.strip())
        except json.JSONDecodeError:
            continue
        parsed += 1
        try:
            jsonschema.validate(value, schema)
            valid += 1
        except jsonschema.ValidationError:
            pass
    return parsed / len(outputs), valid / len(outputs)
    ### END SOLUTION


# %%
from ftrag.check.l02 import check_json_validity

check_json_validity(json_validity)

# %% [markdown]
# ## Exercise 2: the LoRA forward pass
#
# A frozen linear layer computes `x @ W.T` (`W` is out × in). LoRA adds `(alpha / r) * (x @ A.T) @ B.T` with `A`
# (r × in) and `B` (out × r). Write it as a function of plain tensors; `r` is `A.shape[0]`.

# %%
def lora_forward(x: torch.Tensor, weight: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                 alpha: float) -> torch.Tensor:
    """The output of a LoRA-adapted linear layer without bias."""
    ### BEGIN SOLUTION
    r = a.shape[0]
    return x @ weight.T + (alpha / r) * (x @ a.T) @ b.T
    ### END SOLUTION


# %%
from ftrag.check.l02 import check_lora_forward

check_lora_forward(lora_forward)

# %% [markdown]
# ## Exercise 3: a supervised fine-tuning example
#
# Build one training example from a prompt and its answer: `input_ids` is the prompt's tokens (with the tokenizer's
# special tokens), then the answer's tokens (without them), then the EOS token, so the model learns to stop.
# `labels` is the same list with every prompt token replaced by `-100`: the loss is computed on the answer only.

# %%
def sft_example(tokenizer, prompt: str, answer: str) -> dict[str, list[int]]:
    """{'input_ids': prompt + answer + EOS, 'labels': -100 on the prompt, the ids elsewhere}."""
    ### BEGIN SOLUTION
    prompt_ids = tokenizer(prompt)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return {"input_ids": prompt_ids + answer_ids, "labels": [-100] * len(prompt_ids) + answer_ids}
    ### END SOLUTION


# %%
from ftrag.check.l02 import check_sft_example

check_sft_example(sft_example)

# %% [markdown]
# ## Exercise 4: how many parameters does LoRA train?
#
# For every `nn.Linear` in the model whose name ends with one of `target_modules` (e.g. `q_proj`), LoRA adds `A`
# (r × in_features) and `B` (out_features × r). Count them without peft; the check compares with peft's count.

# %%
def lora_trainable_params(model, r: int, target_modules: list[str]) -> int:
    """Parameters that LoRA of rank r on target_modules adds (and trains)."""
    ### BEGIN SOLUTION
    total = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in target_modules:
            total += r * (module.in_features + module.out_features)
    return total
    ### END SOLUTION


# %%
from ftrag.check.l02 import check_lora_trainable_params

check_lora_trainable_params(lora_trainable_params)

# %% [markdown]
# With your count, compare ranks on the course model: the share LoRA trains, as peft reports it (the trained
# parameters over all the parameters of the adapted model, base plus adapter; lesson 02 uses the same).

# %%
everything = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
n_params = sum(p.numel() for p in model.parameters())
for r in (1, 4, 16):
    count = lora_trainable_params(model, r, everything)
    print(f"r={r:>2}: {count:>7,} parameters, {100 * count / (n_params + count):.2f}% of the adapted model")
