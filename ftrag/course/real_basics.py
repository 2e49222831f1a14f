"""Lessons 00 and 01 on a real model: what SmolLM2-135M-Instruct reads, knows and finds new.

``python -m ftrag.course.real_basics`` measures, with the lessons' own data and helpers:

- lesson 00's two claims: reading World A passages (the question with its passage) and World B closed-book, on the
  first ``n_questions`` of each, scored by containment (the real model answers in sentences) with strict exact
  match beside it (``results/smollm2/00_start_here.json``);
- lesson 01's perplexity by kind of text (World A held out, the company dialect, JSON objects), each as a multiple
  of the model's own World A perplexity (a model's perplexity is per token of its own tokenizer: compare the
  ratios across models, not the raw numbers), and its five most likely next tokens after lesson 01's story
  (``results/smollm2/01_autoregressive_prediction.json``).

The course model's numbers under the same keys are written by the notebooks themselves (``save_results``); the
records here are resumable like the other ``real_*`` commands' (each measurement a row of its file).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ftrag.cli import arg
from ftrag.course.real_runs import ANSWER_METRIC, RealRun, command_line, metric_key, reading_scores
from ftrag.env import seed_everything
from ftrag.files import read_jsonl
from ftrag.lm import answer_questions, load_model, perplexity
from ftrag.tasks.kinds_of_text import KINDS, STORY, perplexity_keys, texts_by_kind

DEFAULT_DIR = "results/smollm2"
N_QUESTIONS = 60  # lesson 00's sample of each kind
N_TEXTS = 100  # lesson 01's N_TEXTS of each kind
MAX_NEW_TOKENS = 24  # a sentence answer needs room (lesson 05's budget for an instruct reader)


def next_tokens(model, tokenizer, text: str = STORY, k: int = 5) -> list[list]:
    """The ``k`` most likely next tokens after ``text`` with their probabilities (rounded to 3 places)."""
    with torch.no_grad():
        probs = torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits[0, -1], dim=-1)
    top = torch.topk(probs, k)
    return [[tokenizer.decode([i]), round(p, 3)] for i, p in zip(top.indices.tolist(), top.values.tolist(),
                                                                  strict=True)]


def _lesson00(out: Path, model, tokenizer, model_name: str, n_questions: int) -> dict:
    rc = read_jsonl("world_a", "rc_test.jsonl")[:n_questions]
    qa = read_jsonl("knowledge", "qa.jsonl")[:n_questions]
    budget = {"model": model_name, "n_questions": n_questions, "max_new_tokens": MAX_NEW_TOKENS}
    run = RealRun(out, budget, f"python -m ftrag.course.real_basics --model {model_name} --n-questions "
                               f"{n_questions} --out-dir {out.parent.as_posix()}", answer_metric=ANSWER_METRIC)
    arms = {"read_world_a": ([r["question"] for r in rc], [[r["passages"][r["gold"]]] for r in rc],
                             [r["answer"] for r in rc]),
            "closed_world_b": ([q["question"] for q in qa], None, [q["answer"] for q in qa])}
    for name, (questions, passages, answers) in arms.items():
        if run.todo(name):
            seed_everything(0)
            t0 = time.perf_counter()
            predictions = answer_questions(model, tokenizer, questions, passages, max_new_tokens=MAX_NEW_TOKENS)
            run.rows.add(name, reading_scores(predictions, answers, time.perf_counter() - t0))
        r = run.rows.rows[name]
        print(f"lesson 00, {name}: contains {r['contains']:.3f}, exact match {r['strict_em']:.3f}")

    def keys(record: dict) -> dict:
        rows, metric = record["rows"], metric_key(record)
        return {"em_read": rows["read_world_a"][metric], "em_closed": rows["closed_world_b"][metric],
                "em_read_strict_em": rows["read_world_a"]["strict_em"],
                "em_closed_strict_em": rows["closed_world_b"]["strict_em"]}
    return run.finish(keys)


def _lesson01(out: Path, model, tokenizer, model_name: str, n_texts: int) -> dict:
    budget = {"model": model_name, "n_texts": n_texts, "story": STORY}
    run = RealRun(out, budget, f"python -m ftrag.course.real_basics --model {model_name} --n-texts {n_texts} "
                               f"--out-dir {out.parent.as_posix()}")
    for name, batch in texts_by_kind(n_texts).items():
        if run.todo(name):
            t0 = time.perf_counter()
            run.rows.add(name, {"perplexity": perplexity(model, tokenizer, batch), "texts": len(batch),
                                "seconds": round(time.perf_counter() - t0, 1)})
        print(f"lesson 01, {name}: perplexity {run.rows.rows[name]['perplexity']:.2f}")
    if run.todo("next_tokens"):
        run.rows.add("next_tokens", {"after": STORY, "top": next_tokens(model, tokenizer)})
    print(f"lesson 01, after the story: {run.rows.rows['next_tokens']['top']}")
    return run.finish(lambda record: perplexity_keys({k: record["rows"][k]["perplexity"] for k in KINDS}))


def sweep(out_dir: str | Path = DEFAULT_DIR, *, model_name: str = "smollm2", n_questions: int = N_QUESTIONS,
          n_texts: int = N_TEXTS) -> dict[str, dict]:
    """Both lessons' records in ``out_dir``; rows already there (with the same budget) are kept."""
    if n_questions < 1 or n_texts < 1:
        raise ValueError(f"n_questions and n_texts must be >= 1, got {n_questions} and {n_texts}")
    out_dir = Path(out_dir)
    model, tokenizer = load_model(model_name, device="cpu")
    return {"00": _lesson00(out_dir / "00_start_here.json", model, tokenizer, model_name, n_questions),
            "01": _lesson01(out_dir / "01_autoregressive_prediction.json", model, tokenizer, model_name, n_texts)}


@dataclass
class RealBasicsArgs:
    """The flags of ``python -m ftrag.course.real_basics``."""

    model: str = arg("smollm2", "the model (a name load_model accepts)")
    n_questions: int = arg(N_QUESTIONS, "lesson 00's questions of each kind (World A with passage, World B)")
    n_texts: int = arg(N_TEXTS, "lesson 01's texts of each kind")
    threads: int = arg(2, "torch CPU threads (the recorded run: 2)")
    out_dir: str = arg(DEFAULT_DIR, "folder for 00_start_here.json and 01_autoregressive_prediction.json")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.real_basics``: lessons 00 and 01's measurements on a real model."""
    return command_line(RealBasicsArgs, argv, prog="python -m ftrag.course.real_basics",
                        description="Lessons 00 and 01 on a real model: reading World A passages, World B "
                                    "closed-book, perplexity by kind of text and the next tokens after a story.",
                        run=lambda a: sweep(a.out_dir, model_name=a.model, n_questions=a.n_questions,
                                            n_texts=a.n_texts))


if __name__ == "__main__":
    raise SystemExit(main())
