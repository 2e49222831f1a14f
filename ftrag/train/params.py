"""Counting what a model holds: trainable and total parameters, LoRA's share, bytes of weights and of a saved folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

# The linear layers of a Llama block (the course model, SmolLM2, Qwen2.5 all name them so).
LLAMA_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# ----------------------------------------------------------------------------------------------------------
# Parameters and memory


def _numel(param: torch.nn.Parameter) -> int:
    # bitsandbytes packs two 4-bit weights per byte (Params4bit of dtype uint8): count the weights, not the bytes.
    if param.__class__.__name__ == "Params4bit":
        return param.numel() * param.element_size() * 2
    return param.numel()


def count_parameters(model) -> tuple[int, int]:
    """``(trainable, total)`` parameters; a 4-bit weight counts as one parameter, shared (tied) ones once."""
    seen, trainable, total = set(), 0, 0
    for param in model.parameters():  # parameters() yields a tied tensor once
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += _numel(param)
        trainable += _numel(param) if param.requires_grad else 0
    return trainable, total


def adapter_parameters(peft_model) -> int:
    """Parameters of a peft adapter (LoRA matrices, trainable token rows), also when it is loaded for inference.

    A loaded adapter has no parameter marked trainable, so ``count_parameters`` would report 0 for it.
    """
    # named_parameters() yields a shared (tied) tensor once
    count = sum(p.numel() for n, p in peft_model.named_parameters() if "lora_" in n or "trainable_tokens" in n)
    if not count:
        raise ValueError("this model has no LoRA adapter: wrap it with lora_model(...) or load one with load_adapter")
    return count


def weight_bytes(model, *, linear_only: bool = False) -> int:
    """Bytes the weights occupy (parameters and buffers, 4-bit quantization constants included).

    ``linear_only`` counts the linear layers inside the transformer blocks: what 4-bit quantization shrinks.
    """
    if not linear_only:
        return model.get_memory_footprint()
    total = 0
    for name, module in model.named_modules():
        # bitsandbytes' Linear4bit is an nn.Linear; the LoRA matrices (lora_A, lora_B) are not base weights
        if ".layers." in f".{name}" and isinstance(module, torch.nn.Linear) and ".lora_" not in name:
            weight = module.weight
            total += weight.numel() * weight.element_size()
            state = getattr(weight, "quant_state", None)  # per-block scales (absmax) of the 4-bit weights
            if state is not None:
                total += state.absmax.numel() * state.absmax.element_size()
    return total


def lora_parameter_count(model, r: int, target_modules: Sequence[str] = LLAMA_LINEAR) -> int:
    """Parameters LoRA of rank ``r`` adds: ``r * (in + out)`` for each targeted linear layer."""
    total = 0
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in target_modules and hasattr(module, "in_features"):
            total += r * (module.in_features + module.out_features)
    return total


# ----------------------------------------------------------------------------------------------------------
# Saving and merging


def folder_bytes(folder: str | Path) -> int:
    """Total size of the files in a folder."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
