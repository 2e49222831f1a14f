"""``python -m ftrag.course.forgetting``: lesson 03's learn-vs-forget sweep (``results/03_forgetting_sweep.json``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ftrag.cli import arg, parse, parser_for
from ftrag.course.sweep import SweepFile
from ftrag.lm import load_model
from ftrag.tasks import dialect
from ftrag.tasks.dialect import BLOCK_SIZE

SWEEP = [("lora", 1, 1e-3), ("lora", 4, 1e-3), ("lora", 16, 1e-3), ("full", 0, 1e-3),
         ("lora", 1, 3e-3), ("lora", 4, 3e-3), ("lora", 16, 3e-3), ("full", 0, 3e-4),
         ("lora", 4, 3e-4), ("full", 0, 1e-4)]


def run_key(row: dict) -> tuple[str, int, float]:
    """A row's run: (method, rank, lr)."""
    return row["method"], row["rank"], row["lr"]


def sweep(out: str | Path, *, steps: int = 40, batch_size: int = 4, seed: int = 0,
          runs: Sequence[tuple[str, int, float]] = SWEEP) -> dict:
    """Train and score each (method, rank, lr) of ``runs`` on the same memos; write the rows to ``out`` (JSON).

    Rows already in ``out`` with the same budget are kept (the sweep resumes after an interruption).
    """
    out = Path(out)
    warmup = min(5, steps - 1)
    budget = {"steps": steps, "batch_size": batch_size, "block_size": BLOCK_SIZE, "warmup_steps": warmup, "seed": seed}
    rows = SweepFile(out, budget, row_key=run_key,
                     command=f"python -m ftrag.course.forgetting --steps {steps} --batch-size {batch_size} "
                             f"--seed {seed} --out {out}",
                     threads=torch.get_num_threads())
    # (dialect.forgetting_scores and dialect.train_on_memos through the module: a test swaps in cheaper ones.)
    if ("base", 0, 0.0) not in rows:
        model, tokenizer = load_model(device="cpu")
        rows.add(("base", 0, 0.0), {"method": "base", "rank": 0, "lr": 0.0, "trainable": 0, "train_seconds": 0.0,
                                    **dialect.forgetting_scores(model, tokenizer)})
    for method, rank, lr in runs:
        if (method, rank, lr) in rows:
            continue
        model, tokenizer = load_model(device="cpu")
        model, result = dialect.train_on_memos(model, tokenizer, method=method, rank=rank, lr=lr, steps=steps,
                                               batch_size=batch_size, warmup_steps=warmup, seed=seed, progress=False)
        row = {"method": method, "rank": rank, "lr": lr, "trainable": result.trainable,
               "train_seconds": round(result.seconds, 1), "final_loss": result.final_loss,
               **dialect.forgetting_scores(model, tokenizer)}
        rows.add((method, rank, lr), row)
        print(json.dumps(row), flush=True)
    rows.save()
    return rows.record


@dataclass
class ForgettingArgs:
    """The flags of ``python -m ftrag.course.forgetting``."""

    steps: int = arg(40, "optimizer steps per run")
    batch_size: int = arg(4, f"blocks of {BLOCK_SIZE} tokens per step")
    seed: int = arg(0, "seed of the example order and the LoRA init")
    out: str = arg("results/03_forgetting_sweep.json", "JSON file of the rows")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.forgetting --out results/03_forgetting_sweep.json``: lesson 03's learn-vs-forget
    sweep."""
    parser = parser_for(ForgettingArgs, prog="python -m ftrag.course.forgetting",
                        description="Lesson 03's sweep: continued pretraining on the dialect with LoRA at ranks 1, 4, "
                                    "16 and with full fine-tuning, same memos and token budget, several learning "
                                    "rates; dialect and World A scores.")
    (args,) = parse(parser, argv)
    sweep(args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
