"""``python -m ftrag.course.forgetting``: lesson 03's learn-vs-forget sweep (``results/03_forgetting_sweep.json``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import torch

from ftrag.lm import load_model
from ftrag.tasks import dialect
from ftrag.tasks.dialect import BLOCK_SIZE

SWEEP = [("lora", 1, 1e-3), ("lora", 4, 1e-3), ("lora", 16, 1e-3), ("full", 0, 1e-3),
         ("lora", 1, 3e-3), ("lora", 4, 3e-3), ("lora", 16, 3e-3), ("full", 0, 3e-4),
         ("lora", 4, 3e-4), ("full", 0, 1e-4)]


def sweep(out: str | Path, *, steps: int = 40, batch_size: int = 4, seed: int = 0,
          runs: Sequence[tuple[str, int, float]] = SWEEP) -> dict:
    """Train and score each (method, rank, lr) of ``runs`` on the same memos; write the rows to ``out`` (JSON).

    Rows already in ``out`` with the same budget are kept (the sweep resumes after an interruption).
    """



    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    warmup = min(5, steps - 1)
    budget = {"steps": steps, "batch_size": batch_size, "block_size": BLOCK_SIZE, "warmup_steps": warmup, "seed": seed}
    record = json.loads(out.read_text()) if out.exists() else {}
    if record.get("budget") != budget:
        record = {"budget": budget, "rows": []}
    record["command"] = (f"python -m ftrag.course.forgetting --steps {steps} --batch-size {batch_size} "
                         f"--seed {seed} --out {out}")
    record["threads"] = torch.get_num_threads()
    if not any(r["method"] == "base" for r in record["rows"]):
        model, tokenizer = load_model(device="cpu")
        record["rows"].append({"method": "base", "rank": 0, "lr": 0.0, "trainable": 0, "train_seconds": 0.0,
                               **dialect.forgetting_scores(model, tokenizer)})
    for method, rank, lr in runs:
        if any((r["method"], r["rank"], r["lr"]) == (method, rank, lr) for r in record["rows"]):
            continue
        model, tokenizer = load_model(device="cpu")
        model, result = dialect.train_on_memos(model, tokenizer, method=method, rank=rank, lr=lr, steps=steps,
                                       batch_size=batch_size, warmup_steps=warmup, seed=seed, progress=False)
        row = {"method": method, "rank": rank, "lr": lr, "trainable": result.trainable,
               "train_seconds": round(result.seconds, 1), "final_loss": result.final_loss,
               **dialect.forgetting_scores(model, tokenizer)}
        record["rows"].append(row)
        print(json.dumps(row), flush=True)
        out.write_text(json.dumps(record, indent=1) + "\n")
    out.write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.forgetting --out results/03_forgetting_sweep.json``: lesson 03's learn-vs-forget
    sweep."""

    parser = argparse.ArgumentParser(description="Lesson 03's sweep: continued pretraining on the dialect with LoRA "
                                                 "at ranks 1, 4, 16 and with full fine-tuning, same memos and token "
                                                 "budget, several learning rates; dialect and World A scores.")
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps per run")
    parser.add_argument("--batch-size", type=int, default=4, help=f"blocks of {BLOCK_SIZE} tokens per step")
    parser.add_argument("--seed", type=int, default=0, help="seed of the example order and the LoRA init")
    parser.add_argument("--out", default="results/03_forgetting_sweep.json", help="JSON file of the rows")
    args = parser.parse_args(argv)
    sweep(args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
