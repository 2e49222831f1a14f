"""Measure a course model and write its model card: ``python -m ftrag.course.modelcard [--model course-lm]``.

Every number in ``data/models/<name>/README.md`` comes from this module, which also stores them in ``eval.json``
beside the weights, with the same measurements on a fixed small sample that ``tests/test_model.py`` re-runs. The
card's text (and, for course-lm, what was tried before it) is ``ftrag/course/templates/model_card.md.j2``.
``--check`` only renders each course model's card from its committed numbers and compares it with the README.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ftrag.cli import arg, parse, parser_for, switch
from ftrag.course.render import render
from ftrag.files import read_examples, read_jsonl, sync_generated
from ftrag.lm import (
    COURSE_MODELS,
    answer_questions,
    exact_match,
    format_prompt,
    generate,
    load_model,
    perplexity,
    rc_em,
    resolve_model,
)
from ftrag.paths import repo_root
from ftrag.tasks.json_output import JSON_QUESTION

SAMPLE = {"rc": 120, "closed_book_b": 200, "json": 40, "heldout": 60}  # rows the test re-measures
DISTRACTORS = (0, 1, 2, 4)


def open_book_em(model, tok, qa_b: list[dict]) -> dict:
    """World B questions with their own document as the passage: can the model read a document of a new kind?"""
    docs = {d["doc_id"]: d["text"] for d in read_jsonl("knowledge", "docs.jsonl")}
    out = {}
    for kind in ("lexical", "paraphrased"):
        rows = [q for q in qa_b if q["kind"] == kind]
        preds = answer_questions(model, tok, [q["question"] for q in rows], [[docs[q["doc_id"]]] for q in rows],
                                 max_new_tokens=16)
        out[f"open_book_world_b_em_{kind}"] = round(exact_match(preds, [q["answer"] for q in rows]), 4)
    return out


def json_rates(model, tok, notices: list[str], max_new_tokens: int = 96) -> tuple[float, float]:
    """Zero-shot JSON task: (share of answers ``json.loads`` accepts, share that are a JSON object).

    The first counts any JSON value: a model that copies a number out of the notice ("37") emits valid JSON
    without ever writing a brace. The task asks for an object, so the second is the card's target (<= 0.05).
    An answer counts if its whole text or its first line parses.
    """
    outs = generate(model, tok, [format_prompt(JSON_QUESTION, [n]) for n in notices],
                    max_new_tokens=max_new_tokens, stop_at_newline=False)

    def value(text: str):
        for candidate in (text, text.split("\n", 1)[0]):
            try:
                return True, json.loads(candidate)
            except ValueError:
                continue
        return False, None

    parsed = [value(o) for o in outs]
    return (sum(ok for ok, _ in parsed) / len(outs),
            sum(ok and isinstance(v, dict) for ok, v in parsed) / len(outs))


def measure(model, tok, sample_only: bool = False) -> dict:
    """All card numbers (on the full sets, or on the fixed test sample only)."""
    rc = read_jsonl("world_a", "rc_test.jsonl")
    qa_b = read_jsonl("knowledge", "qa.jsonl")
    notices = [r["text"] for r in read_jsonl("json_task", "test.jsonl")]
    heldout = read_examples("world_a", "heldout.txt")
    closed_a = read_jsonl("world_a", "closed_book.jsonl")
    if sample_only:
        rc, qa_b, notices = rc[: SAMPLE["rc"]], qa_b[: SAMPLE["closed_book_b"]], notices[: SAMPLE["json"]]
        heldout = heldout[: SAMPLE["heldout"]]
    out: dict = {"heldout_ppl": round(perplexity(model, tok, heldout), 3)}
    for n in DISTRACTORS:
        em, rows = rc_em(model, tok, rc, n)
        out[f"rc_em_d{n}"], out[f"rc_rows_d{n}"] = round(em, 4), rows
    preds = answer_questions(model, tok, [q["question"] for q in qa_b], max_new_tokens=16)
    out["closed_book_world_b_em"] = round(exact_match(preds, [q["answer"] for q in qa_b]), 4)
    out.update(open_book_em(model, tok, qa_b))
    any_json, objects = json_rates(model, tok, notices)
    out["json_zero_shot_parse_rate"], out["json_zero_shot_object_rate"] = round(any_json, 4), round(objects, 4)
    if not sample_only:
        preds = answer_questions(model, tok, [q["question"] for q in closed_a], max_new_tokens=16)
        out["closed_book_world_a_em"] = round(exact_match(preds, [q["answer"] for q in closed_a]), 4)
    return out


def generation_speed(model, tok, new_tokens: int = 64) -> dict:
    """Greedy tokens per second, one prompt at a time and 32 at once (EOS ignored so every run is full length)."""

    speeds = {}
    for batch in (1, 32):
        enc = tok(["Passage: Anna Berg was born in"] * batch, return_tensors="pt")
        model.generate(**enc, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)  # warm-up
        start = time.perf_counter()
        with torch.no_grad():
            model.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                           pad_token_id=tok.pad_token_id)
        speeds[f"batch_{batch}"] = round(batch * new_tokens / (time.perf_counter() - start))
    return speeds


def samples(model, tok) -> list[tuple[str, str]]:
    """A few prompts and the model's greedy continuations, for the card."""
    rc = read_jsonl("world_a", "rc_test.jsonl")[0]
    qa_b = read_jsonl("knowledge", "qa.jsonl")[0]
    prompts = [
        "Once upon a time,",
        "Anna Berg was born in",
        format_prompt(rc["question"], [rc["passages"][rc["gold"]]]),
        format_prompt(qa_b["question"]),
        format_prompt(JSON_QUESTION, [read_jsonl("json_task", "test.jsonl")[0]["text"]]),
    ]
    outs = generate(model, tok, prompts, max_new_tokens=40, stop_at_newline=False)
    return list(zip(prompts, outs, strict=True))


def loss_plot(model_dir: Path) -> None:
    """loss.png from the training log beside the weights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_jsonl(model_dir / "training_log.jsonl")
    steps = [r for r in log if "loss" in r]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    for phase in sorted({r.get("phase", 1) for r in steps}):
        rows = [r for r in steps if r.get("phase", 1) == phase]
        ax.plot([r["tokens"] / 1e6 for r in rows], [r["loss"] for r in rows], label=f"phase {phase}")
    ax.set(xlabel="training tokens (millions)", ylabel="loss (nats/token)", title=f"{model_dir.name} pretraining loss")
    ax.set_ylim(0, None)
    ax.legend()
    fig.tight_layout()
    fig.savefig(model_dir / "loss.png")
    plt.close(fig)


def card_text(model_dir: Path, result: dict) -> str:
    """The card (README.md) of the model in ``model_dir``: ``templates/model_card.md.j2`` filled from ``result``
    (eval.json's numbers), the training summary and the config."""
    summary = json.loads((model_dir / "training_summary.json").read_text())
    vocab = json.loads((model_dir / "config.json").read_text())["vocab_size"]
    return render("model_card.md.j2", name=model_dir.name, result=result, full=result["full"],
                  sample=result["sample"], summary=summary, cfg=summary["config"], vocab=vocab,
                  distractors=DISTRACTORS)


def write_card(model_dir: Path, result: dict) -> Path:
    """README.md beside the weights: ``templates/model_card.md.j2`` filled from eval.json and the training summary."""
    path = model_dir / "README.md"
    path.write_text(card_text(model_dir, result))
    return path


def stale_cards() -> list[str]:
    """The course models' README.md files that differ from the card their committed eval.json makes (writes none).

    Nothing is measured and loss.png is not redrawn: this checks the text, from the numbers already stored.
    """
    cards = {}
    for name in COURSE_MODELS:
        model_dir = Path(resolve_model(name)[0])
        cards[model_dir / "README.md"] = card_text(model_dir, json.loads((model_dir / "eval.json").read_text()))
    return sync_generated(cards, repo_root(), check=True)


@dataclass
class ModelCardArgs:
    """The flags of ``python -m ftrag.course.modelcard``."""

    model: str = arg("course-lm", "course-lm, course-lm-small or a local model folder")
    card_only: bool = switch("rewrite README.md and loss.png from the stored eval.json without measuring again")
    check: bool = switch(f"write nothing; exit 1 if the README.md of a course model ({', '.join(COURSE_MODELS)}) "
                         "differs from the card its stored eval.json makes (--model is not read)")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.modelcard [--model course-lm]``: measure, write eval.json, loss.png and the card."""
    parser = parser_for(ModelCardArgs, prog="python -m ftrag.course.modelcard",
                        description="Measure a course model and write its model card and eval.json.")
    (args,) = parse(parser, argv)
    if args.check:
        stale = stale_cards()
        print(f"out of date: {', '.join(stale)}; run `python -m ftrag.course.modelcard --card-only --model NAME`"
              if stale else "the model cards match their eval.json, training_summary.json and config.json")
        return 1 if stale else 0
    if args.card_only:
        model_dir = Path(resolve_model(args.model)[0])
        loss_plot(model_dir)
        print(f"wrote {write_card(model_dir, json.loads((model_dir / 'eval.json').read_text()))}")
        return 0
    model, tok = load_model(args.model, device="cpu")
    model_dir = Path(model.name_or_path)
    result = {"full": measure(model, tok), "sample": measure(model, tok, sample_only=True),
              "sample_sizes": SAMPLE, "generation_tokens_per_s": generation_speed(model, tok),
              "parameters": sum(p.numel() for p in model.parameters())}
    result["samples"] = samples(model, tok)
    (model_dir / "eval.json").write_text(json.dumps(result, indent=1) + "\n")
    loss_plot(model_dir)
    write_card(model_dir, result)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
