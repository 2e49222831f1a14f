"""``python -m ftrag.course.injection``: lesson 05's knowledge-injection arms, trained and scored
(``results/05_injection.json``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ftrag.cli import arg, parse, parser_for
from ftrag.course.sweep import SweepFile
from ftrag.lm import load_model, world_a_scores
from ftrag.tasks.injection import (
    ARMS,
    BATCH_SIZE,
    BLOCK_SIZE,
    LORA_RANK,
    LR,
    MEMORISE,
    N_DOCS,
    RAFT,
    STEPS,
    UPDATE_STEPS,
    arm_scores,
    fact_set,
    rag_passages,
    reader_scores,
    saved_bytes,
    train_arm,
    update_fact,
)


def sweep(out: str | Path, *, seed: int = 0, arms: Sequence[str] | None = None, redo: Sequence[str] = (),
          device: str = "cpu") -> dict:
    """Train and score every arm (or the named ones) on the same fact set; write the rows to ``out`` (JSON).

    Rows already in ``out`` with the same budget are kept (the sweep resumes after an interruption), except the
    arms named in ``redo``.
    """
    unknown = [name for name in arms or () if name not in ARMS]
    if unknown:
        raise ValueError(f"unknown arm {unknown[0]!r}; the arms are {list(ARMS)}")
    out = Path(out)
    facts = fact_set(seed=seed)
    budget = {"n_docs": N_DOCS, "steps": STEPS, "batch_size": BATCH_SIZE, "block_size": BLOCK_SIZE, "lr": LR,
              "lora_rank": LORA_RANK, "update_steps": UPDATE_STEPS, "seed": seed}
    rows = SweepFile(out, budget, command=f"python -m ftrag.course.injection --seed {seed} --out {out}",
                     recipes={"memorise": MEMORISE, "raft": RAFT}, threads=torch.get_num_threads(),
                     fact_set={"train_docs": [d["doc_id"] for d in facts.train_docs],
                               "eval_docs": [d["doc_id"] for d in facts.eval_docs],
                               "eval_questions": len(facts.eval_qa), "train_questions": len(facts.train_qa)})
    for name in redo:
        rows.drop(name)
    rag = rag_passages(facts, facts.eval_qa)

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
    for name in arms or ARMS:
        if name in rows:
            continue
        spec = ARMS[name]
        model, tokenizer = load_model(device=device)
        model, result = train_arm(model, tokenizer, facts, spec, seed=seed, progress=False)
        row = {**spec, "trainable": result.trainable, "train_seconds": round(result.seconds, 1),
               "tokens": result.tokens, "final_loss": round(result.final_loss, 4), "saved_bytes": saved_bytes(model),
               **arm_scores(model, tokenizer, facts, rag)}
        if spec["data"] == "raft":
            row.update({f"reader_{k}": v for k, v in reader_scores(model, tokenizer, facts, facts.eval_qa).items()})
        if name == "mixed, k=10":
            row["update"] = update_fact(model, tokenizer, facts, spec["method"], seed=seed)
        rows.add(name, row)
        print(json.dumps({"arm": name, **{k: v for k, v in row.items() if k != "update"}}), flush=True)
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
    out: str = arg("results/05_injection.json", "JSON file of the rows")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.injection --out results/05_injection.json``: lesson 05's arms, trained and scored."""
    parser = parser_for(InjectionArgs, prog="python -m ftrag.course.injection",
                        description="Lesson 05's sweep: the same World B facts injected by continued pretraining "
                                    "(documents, paraphrases, mixed with QA pairs), by memorising questions, and a "
                                    "RAFT-style reader; every arm scored.")
    (args,) = parse(parser, argv)
    torch.set_num_threads(args.threads)
    sweep(args.out, seed=args.seed, arms=args.arms, redo=args.redo, device=args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
