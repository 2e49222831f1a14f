"""What a fine-tuning method costs on lesson 02's JSON task, measured in a fresh process for each method.

Measured in one notebook process, whichever run comes first pays for the allocator's growth and the later ones look
cheap. Here every method starts from an empty Python: it loads the model, wraps it (LoRA, QLoRA or nothing), trains
a few steps of the same batches, and reports its peak resident memory and its time per step::

    python -m ftrag.tasks.json_cost --method qlora --steps 10
    costs = fresh_process_costs(["lora", "qlora", "full"], steps=10)   # one child process each
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from ftrag.cli import arg, parse, parser_for, switch
from ftrag.env import seed_everything
from ftrag.lm import load_model
from ftrag.tasks import json_output as jt
from ftrag.train.loop import TrainConfig, train
from ftrag.train.lora import lora_model, qlora_model, tokens_to_train

METHODS = ("lora", "qlora", "full")
LEARNING_RATES = {"lora": 4e-3, "qlora": 4e-3, "full": 1e-3}  # as in lesson 02 (every weight moves in full FT)


def _resident_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def measure(method: str, *, model_name: str | None = None, rank: int = 8, steps: int = 10, batch_size: int = 8,
            seed: int = 0, gradient_checkpointing: bool = False) -> dict:
    """Train ``steps`` steps of ``method`` on the first JSON training notices in *this* process; its costs.

    Returns ``trainable`` parameters, ``seconds_per_step``, ``loaded_mb`` (resident memory once the model is loaded
    and wrapped), ``peak_mb`` (the most resident memory during training) and ``training_mb`` (the difference:
    gradients, optimizer state, activations), and the ``first_loss`` and ``last_loss``. ``checkpointing`` says
    whether activations were recomputed in the backward pass (QLoRA always; the others with
    ``gradient_checkpointing``: the same gradients, less memory, a second forward pass).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be at least 1, got {steps} and {batch_size}")
    seed_everything(seed)
    model, tokenizer = load_model(model_name, device="cpu")
    sft = jt.sft_dataset(tokenizer, jt.load_split("train")[:steps * batch_size])
    rows = tokens_to_train(model, tokenizer, sft)
    if method == "lora":
        model = lora_model(model, rank, token_ids=rows, reinit_tokens=True, seed=seed)
    elif method == "qlora":
        del model  # QLoRA loads its own 4-bit base: the fp32 one must not stay in memory
        model, _ = qlora_model(model_name, rank, device="cpu", token_ids=rows, reinit_tokens=True, seed=seed)
    else:
        model.requires_grad_(True)
    loaded = _resident_mb()
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=LEARNING_RATES[method], warmup_steps=0, seed=seed,
                         gradient_checkpointing=method == "qlora" or gradient_checkpointing, progress=False)
    result = train(model, sft, config, pad_id=tokenizer.pad_token_id)
    return {"method": method, "checkpointing": config.gradient_checkpointing, "trainable": result.trainable,
            "seconds_per_step": result.seconds / steps,
            "loaded_mb": loaded, "peak_mb": loaded + result.peak_extra_mb, "training_mb": result.peak_extra_mb,
            "first_loss": result.losses[0], "last_loss": result.final_loss}


def fresh_process_costs(methods=METHODS, **kwargs) -> list[dict]:
    """:func:`measure` for each method, each in a new Python process (``python -m ftrag.tasks.json_cost``)."""
    out = []
    for method in methods:
        flags = [f"--{k.replace('_', '-')}" if v is True else f"--{k.replace('_', '-')}={v}"
                 for k, v in kwargs.items() if v is not None and v is not False]  # a switch: given or not
        done = subprocess.run([sys.executable, "-m", "ftrag.tasks.json_cost", f"--method={method}", *flags],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"measuring {method} in a fresh process failed (exit {done.returncode}):\n"
                               f"{done.stderr[-2000:]}")
        out.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


@dataclass
class CostArgs:
    """The flags of ``python -m ftrag.tasks.json_cost``."""

    method: str = arg("lora", "what to train", choices=METHODS)
    model_name: str | None = arg(None, "course-lm (default), a local folder or a hub id")
    rank: int = arg(8, "LoRA rank r (lora and qlora)")
    steps: int = arg(10, "optimizer steps")
    batch_size: int = arg(8, "notices per step")
    seed: int = arg(0, "seed")
    gradient_checkpointing: bool = switch("recompute activations in the backward pass (QLoRA always does)")


def main(argv: list[str] | None = None) -> int:
    """Print one JSON line: the costs of one method, measured in this (fresh) process."""
    parser = parser_for(CostArgs, prog="python -m ftrag.tasks.json_cost",
                        description="Time and peak memory of one fine-tuning method on the JSON task, in this "
                                    "process (run it once per method to compare them fairly).")
    (args,) = parse(parser, argv)
    print(json.dumps(measure(args.method, model_name=args.model_name, rank=args.rank, steps=args.steps,
                             batch_size=args.batch_size, seed=args.seed,
                             gradient_checkpointing=args.gradient_checkpointing)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
