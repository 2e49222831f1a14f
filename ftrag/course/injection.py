"""``python -m ftrag.course.injection``: lesson 05's knowledge-injection arms, trained and scored
(``results/05_injection.json``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import torch

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
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    facts = fact_set(seed=seed)
    budget = {"n_docs": N_DOCS, "steps": STEPS, "batch_size": BATCH_SIZE, "block_size": BLOCK_SIZE, "lr": LR,
              "lora_rank": LORA_RANK, "update_steps": UPDATE_STEPS, "seed": seed}
    record = json.loads(out.read_text()) if out.exists() else {}
    if record.get("budget") != budget:
        record = {"budget": budget, "rows": {}}
    for name in redo:
        record["rows"].pop(name, None)
    record["command"] = f"python -m ftrag.course.injection --seed {seed} --out {out}"
    record["recipes"] = {"memorise": MEMORISE, "raft": RAFT}
    record["threads"] = torch.get_num_threads()
    record["fact_set"] = {"train_docs": [d["doc_id"] for d in facts.train_docs],
                          "eval_docs": [d["doc_id"] for d in facts.eval_docs],
                          "eval_questions": len(facts.eval_qa), "train_questions": len(facts.train_qa)}
    rag = rag_passages(facts, facts.eval_qa)

    def save() -> None:
        out.write_text(json.dumps(record, indent=1) + "\n")

    model, tokenizer = load_model(device=device)
    if "closed-book" not in record["rows"]:
        record["rows"]["closed-book"] = {"method": "none", "trainable": 0, "train_seconds": 0.0, "tokens": 0,
                                         "saved_bytes": 0, **arm_scores(model, tokenizer, facts, rag)}
        save()
    if "plain reader" not in record["rows"]:
        record["rows"]["plain reader"] = {"method": "none", **reader_scores(model, tokenizer, facts, facts.eval_qa)}
        save()
    if "weaker reader" not in record["rows"]:
        small, small_tok = load_model("course-lm-small", device=device)
        record["rows"]["weaker reader"] = {"method": "none", "model": "course-lm-small",
                                           **reader_scores(small, small_tok, facts, facts.eval_qa),
                                           **world_a_scores(small, small_tok)}
        save()
    for name in arms or ARMS:
        if name not in ARMS:
            raise ValueError(f"unknown arm {name!r}; the arms are {list(ARMS)}")
        if name in record["rows"]:
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
        record["rows"][name] = row
        print(json.dumps({"arm": name, **{k: v for k, v in row.items() if k != "update"}}), flush=True)
        save()
    save()
    return record


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.injection --out results/05_injection.json``: lesson 05's arms, trained and scored."""
    parser = argparse.ArgumentParser(description="Lesson 05's sweep: the same World B facts injected by continued "
                                                 "pretraining (documents, paraphrases, mixed with QA pairs), by "
                                                 "memorising questions, and a RAFT-style reader; every arm scored.")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fact set, the data order and the init")
    parser.add_argument("--arms", nargs="*", default=None, help=f"only these arms (default: all: {list(ARMS)})")
    parser.add_argument("--redo", nargs="*", default=(), help="train these arms again even if the file has them")
    parser.add_argument("--device", default="cpu", help="cpu (the recorded runs) or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the recorded runs: 1)")
    parser.add_argument("--out", default="results/05_injection.json", help="JSON file of the rows")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    sweep(args.out, seed=args.seed, arms=args.arms, redo=args.redo, device=args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
