"""``python -m ftrag.course.injection``: lesson 05's knowledge-injection arms, trained and scored
(``results/05_injection.json``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ftrag.cli import arg, parse, parser_for
from ftrag.course.sweep import SweepFile
from ftrag.lm import load_model, world_a_scores
from ftrag.tasks.fact_change import change_targets, update_facts
from ftrag.tasks.injection import (
    ARMS,
    BATCH_SIZE,
    BLOCK_SIZE,
    EVAL_EVERY,
    LORA_RANK,
    LR_GRID,
    MEMORISE,
    N_DOCS,
    N_VALID,
    OWN_BUDGET,
    RAFT,
    RAFT_CONTROL,
    REPLAY,
    STEPS,
    WORDINGS,
    FactSet,
    arm_scores,
    fact_set,
    rag_passages,
    reader_scores,
    saved_bytes,
    train_arm,
)

GRID_ARMS = {"full": "mixed, k=10", "lora": "mixed, k=10, LoRA"}  # the arm each method's learning rate is chosen on


def _trained_row(name: str, model, tokenizer, facts: FactSet, result, rag, lr: float | None) -> dict:
    spec = ARMS[name]
    row = {**spec, "lr": lr, "budget": "own" if name in OWN_BUDGET else "shared", "trainable": result.trainable,
           "steps": len(result.losses), "selected_step": result.selected_step, "curve": result.curve,
           "train_seconds": round(result.seconds, 1), "tokens": result.tokens,
           "final_loss": round(result.final_loss, 4), "saved_bytes": saved_bytes(model),
           **arm_scores(model, tokenizer, facts, rag)}
    if spec["data"].startswith("raft"):
        row.update({f"reader_{k}": v for k, v in reader_scores(model, tokenizer, facts, facts.eval_qa).items()})
    return row


def _grid(rows: SweepFile, method: str, facts: FactSet, rag, *, seed: int, device: str) -> None:
    """Train ``GRID_ARMS[method]`` at every learning rate of ``LR_GRID[method]`` with early stopping; the run with the
    best validation scores (EM, then MC) at its best step becomes the arm's row; the grid is recorded beside it."""
    name, runs, best = GRID_ARMS[method], [], None
    for lr in LR_GRID[method]:
        model, tokenizer = load_model(device=device)
        model, result = train_arm(model, tokenizer, facts, ARMS[name], seed=seed, progress=False, lr=lr)
        key = max(tuple(c["scores"]) for c in result.curve if c["step"])
        runs.append({"lr": lr, "selected_step": result.selected_step, "validation": list(key),
                     "curve": result.curve, "train_seconds": round(result.seconds, 1)})
        print(json.dumps({"grid": name, **runs[-1]}), flush=True)
        if best is None or key > best[0]:
            best = (key, lr, model, tokenizer, result)
    _, lr, model, tokenizer, result = best
    row = _trained_row(name, model, tokenizer, facts, result, rag, lr)
    if name == "mixed, k=10":
        row["update"] = update_facts(model, tokenizer, facts, change_targets(facts, seed=seed), method, seed=seed,
                                     lr=lr)
    rows.add(name, row)
    rows.add(f"learning-rate grid, {method}", {"arm": name, "runs": runs, "selected_lr": lr})


def sweep(out: str | Path, *, seed: int = 0, arms: Sequence[str] | None = None, redo: Sequence[str] = (),
          device: str = "cpu", seeds: Sequence[int] = ()) -> dict:
    """Train and score every arm (or the named ones) on the same fact set; write the rows to ``out`` (JSON).

    The learning rate of each method is chosen first, on the validation documents (``GRID_ARMS``); every other arm
    trains at it, keeping its best validation step. Rows already in ``out`` with the same budget are kept (the sweep
    resumes after an interruption), except the arms named in ``redo``. ``seeds``: the strongest arm (``mixed, k=10``)
    again with these training seeds (same fact set), for the spread that training adds.
    """
    unknown = [name for name in [*(arms or ()), *redo] if name not in ARMS]
    if unknown:
        raise ValueError(f"unknown arm {unknown[0]!r}; the arms are {list(ARMS)}")
    out = Path(out)
    facts = fact_set(seed=seed)
    budget = {"n_docs": N_DOCS, "n_valid": N_VALID, "steps": STEPS, "batch_size": BATCH_SIZE,
              "block_size": BLOCK_SIZE, "lr_grid": LR_GRID, "eval_every": EVAL_EVERY, "replay": REPLAY,
              "lora_rank": LORA_RANK, "seed": seed}
    command = (f"python -m ftrag.course.injection --seed {seed}" + (" --seeds " + " ".join(map(str, seeds)) if seeds
                                                                     else "") + f" --out {out}")
    rows = SweepFile(out, budget, command=command,
                     recipes={"memorise": MEMORISE, "wordings": WORDINGS, "raft": RAFT, "raft_control": RAFT_CONTROL},
                     threads=torch.get_num_threads(),
                     fact_set={"train_docs": [d["doc_id"] for d in facts.train_docs],
                               "eval_docs": [d["doc_id"] for d in facts.eval_docs],
                               "valid_docs": [d["doc_id"] for d in facts.valid_docs],
                               "eval_questions": len(facts.eval_qa), "train_questions": len(facts.train_qa),
                               "valid_questions": len(facts.valid_qa)})
    for name in redo:
        rows.drop(name)
        if name in GRID_ARMS.values():
            rows.drop(f"learning-rate grid, {next(m for m, a in GRID_ARMS.items() if a == name)}")
    rag = rag_passages(facts, facts.eval_qa)
    started = time.perf_counter()

    model, tokenizer = load_model(device=device)
    if "closed-book" not in rows:
        rows.add("closed-book", {"method": "none", "trainable": 0, "train_seconds": 0.0, "tokens": 0,
                                 "saved_bytes": 0, **arm_scores(model, tokenizer, facts, rag)})
    if "plain reader" not in rows:
        rows.add("plain reader", {"method": "none", **reader_scores(model, tokenizer, facts, facts.eval_qa)})
    if "weaker reader" not in rows:
        small, small_tok = load_model("course-lm-small", device=device)
        rows.add("weaker reader", {"method": "none", "model": "course-lm-small",
                                   **reader_scores(small, small_tok, facts, facts.eval_qa),
                                   **world_a_scores(small, small_tok)})
    for method, name in GRID_ARMS.items():
        if (arms is None or name in arms) and name not in rows:
            _grid(rows, method, facts, rag, seed=seed, device=device)
    selected = {m: rows.rows[f"learning-rate grid, {m}"]["selected_lr"] for m in GRID_ARMS
                if f"learning-rate grid, {m}" in rows}
    for name in arms or ARMS:
        if name in rows or name in GRID_ARMS.values():
            continue
        spec = ARMS[name]
        if spec["data"] in ("texts", "wordings") and spec["method"] not in selected:
            raise ValueError(f"{name!r} trains at the learning rate selected for {spec['method']!r}: run "
                             f"{GRID_ARMS[spec['method']]!r} first")
        lr = selected[spec["method"]] if spec["data"] in ("texts", "wordings") else None
        model, tokenizer = load_model(device=device)
        model, result = train_arm(model, tokenizer, facts, spec, seed=seed, progress=False, lr=lr,
                                  select=spec["data"] != "memorise")
        rows.add(name, _trained_row(name, model, tokenizer, facts, result, rag, lr))
        print(json.dumps({"arm": name, **{k: v for k, v in rows.rows[name].items() if "hits" not in k
                                          and k != "curve"}}), flush=True)
    for extra in seeds:
        name = f"mixed, k=10, seed {extra}"
        if name not in rows and "mixed, k=10" in rows:
            model, tokenizer = load_model(device=device)
            model, result = train_arm(model, tokenizer, facts, ARMS["mixed, k=10"], seed=extra, progress=False,
                                      lr=selected["full"])
            rows.add(name, {**_trained_row("mixed, k=10", model, tokenizer, facts, result, rag, selected["full"]),
                            "training_seed": extra})
    rows.record["sweep_seconds_this_run"] = round(time.perf_counter() - started)
    rows.save()
    return rows.record


@dataclass
class InjectionArgs:
    """The flags of ``python -m ftrag.course.injection``."""

    seed: int = arg(0, "seed of the fact set, the data order and the init")
    # --arms and --redo take a list (nargs="*"); the annotation is the type of each name, as argparse's type= is
    arms: str | None = arg(None, f"only these arms (not given: all of {list(ARMS)})", nargs="*")
    redo: str = arg((), "train these arms again even if the file has them", nargs="*")
    device: str = arg("cpu", "cpu (the recorded runs) or cuda")
    threads: int = arg(1, "torch CPU threads (the recorded runs: 1)")
    seeds: int = arg((), "also train the mixed, k=10 arm with these training seeds (the spread of training)",
                     nargs="*")
    out: str = arg("results/05_injection.json", "JSON file of the rows")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.injection --out results/05_injection.json``: lesson 05's arms, trained and scored."""
    parser = parser_for(InjectionArgs, prog="python -m ftrag.course.injection",
                        description="Lesson 05's sweep: the same World B facts injected by continued pretraining "
                                    "(documents, paraphrases, mixed with QA pairs; learning rate and step chosen on "
                                    "validation documents), by question wordings, by memorising questions, and a "
                                    "RAFT-style reader with its control; every arm scored.")
    (args,) = parse(parser, argv)
    torch.set_num_threads(args.threads)
    sweep(args.out, seed=args.seed, arms=args.arms, redo=args.redo, device=args.device, seeds=args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
