"""Measure a course model and write its model card: ``python -m ftrag.course.modelcard [--model course-lm]``.

Every number in ``data/models/<name>/README.md`` comes from this module, which also stores them in ``eval.json``
beside the weights, with the same measurements on a fixed small sample that ``tests/test_model.py`` re-runs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ftrag.files import read_examples, read_jsonl
from ftrag.lm import (
    answer_questions,
    exact_match,
    format_prompt,
    generate,
    load_model,
    perplexity,
    rc_em,
    resolve_model,
)
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


TRIED = """\
- The design's spike (3.6M parameters, a CPU with AVX512-BF16) trained at 11.8k tokens/s in bf16. This machine's
  CPU has AVX2 only: bf16 matmuls are emulated (see the bf16 peak above) and fp32 is the fast path, at about 3k
  tokens/s. The recipe kept the spike's data design (one example per row, never packed; short passages first, then
  biographies with distractors; questions about every fact) and fitted the shape to the time: 4 layers of width 256
  (4.2M parameters, tied embeddings) rather than 6 (5.8M, about 40% slower per token).
- First model (13M tokens of biographies, places, organisations and festivals only, 69 minutes): exact match 0.876
  with the gold passage alone, 0.29 with 2 distractors. It read World A's templates, not documents: given a World B
  document and its question it answered 0.00, mostly with a World A name. Its tokenizer, trained on that corpus
  alone, had no token for `June`, `Ledger` or `$`, so World B text fell apart into rare pieces.
- Repairing that model by continued pretraining on records (documents about invented things) did not work: at lr
  1e-3 its World A exact match fell from 0.89 to 0.78; at lr 4e-4 (4M tokens) it kept 0.84 but answered World B
  documents 0.00 and its own records 0.22.
- Second model (same recipe, records in both phases from the start: 25% of phase 1, about 35% of phase 2): gold
  passage 1.00, 1 / 2 / 4 distractors 0.81 / 0.64 / 0.45, but World B documents read at only 0.40 lexical / 0.17
  paraphrased. Its errors: values of the wrong type where the question's verb never occurs in World A (`took down`,
  `disrupted`), and names that a JSON value or a quote could not reuse: its tokenizer glued the space to the word
  (` Ulvard`), so `"Ulvard"` was other tokens entirely and lesson 02's LoRA could not copy towns and names (field
  exact match 0.05 after 200 steps).
- Third model, two changes. (1) The tokenizer keeps a space before a capitalised word or a number as a token of
  its own, so a name, a town or a date is the same tokens after a space, a quote or a bracket (lower-case words keep
  their space; about 15% more tokens per text). (2) Half the records are worded with the knowledge base's sentence
  frames and question wordings (`{s} took down the {v}.`, `Which system did {s} affect?`), filled with invented
  World A names and values: everyday business English that any language model would know. No World B name, value
  or fact is in the corpus (the separation tests check it). Phase 2 mixes records at 38%. World B reading with the
  document in context rose to 0.85 lexical / 0.84 paraphrased, but gold-passage exact match stayed at 0.868 after
  14M tokens and 0.865 after 17M: 96 of the 99 pet questions were answered from a prior (`cat`, `dog`, `ferret`)
  whatever the passage said. With only 15 pets, guessing was cheap enough that the model never learned to read that
  relation; every other relation read at 0.99 or better. Its other misses: `POL-216` copied as `PiL-216`,
  `$4.65 million` as `$4,65` (records wrote millions with one decimal), and job titles replaced by one from the
  records' fixed lists (`Hardware Engineer` -> `Field Engineer`).
- This model: the same recipe and budget (17M tokens), trained from scratch on regenerated data with 50 pets,
  records' millions written with one or two decimals, and a third of the records' job titles starting with an
  invented word (92 minutes). It read later than the third model (probe gold-passage exact match 0.39 at 12.2M
  tokens against 0.89; 0.95 at 15.8M) and ended at 0.996 (table above); with distractors it reads less well than
  the third model did (0.75 / 0.67 / 0.60 against 0.82 / 0.79 / 0.76), World B about the same.
"""


def write_card(model_dir: Path, result: dict) -> Path:
    """README.md beside the weights, from eval.json's numbers and the training summary."""
    summary = json.loads((model_dir / "training_summary.json").read_text())
    cfg, full, sample = summary["config"], result["full"], result["sample"]
    vocab = json.loads((model_dir / "config.json").read_text())["vocab_size"]
    rows = "\n".join(
        f"| reading comprehension EM, gold passage + {n} distractor{'s' if n != 1 else ''} | "
        f"{full[f'rc_em_d{n}']:.3f} ({full[f'rc_rows_d{n}']} rows) | {sample[f'rc_em_d{n}']:.3f} |"
        for n in DISTRACTORS)
    peak, speed = summary["matmul_peak_tflops"], result["generation_tokens_per_s"]
    training = "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in [
        ("curriculum", f"phase 1: {cfg['phase1_budget']:,.0f} tokens of short passages; phase 2: "
                       f"{cfg['phase2_budget']:,.0f} tokens of biographies with 0-4 distractors, mixed with "
                       "short ones; records (documents of any kind about invented things: codes, prices, "
                       "dates) in both phases"),
        ("batches", f"one example per row, never packed; length-bucketed, about {cfg['batch_tokens']:,} padded tokens"),
        ("optimiser", f"AdamW, peak lr {cfg['lr']}, {cfg['schedule']} schedule, {cfg['warmup_steps']} warm-up steps, "
                      f"weight decay {cfg['weight_decay']}"),
        ("steps, tokens", f"{summary['steps']:,} steps, {summary['tokens']:,} tokens "
                          f"({summary['padded_tokens']:,} with padding)"),
        ("time", f"{summary['train_seconds'] / 60:.0f} minutes of training, {summary['wall_seconds'] / 60:.0f} minutes "
                 f"wall, {summary['threads']} threads, {summary['precision']}"),
        ("CPU", summary["cpu"]),
        ("throughput", f"{summary['tokens_per_s']:,} tokens/s"),
        ("matmul peak, measured in the same run", f"fp32 {peak['float32']} TFLOP/s, bf16 {peak['bfloat16']} TFLOP/s"),
        ("model FLOPs (6 x parameters x tokens/s)", f"{summary['model_flops_tflops']} TFLOP/s = "
                                                    f"{summary['model_flops_share_of_peak']:.0%} of the "
                                                    f"{summary['precision']} peak"),
    ])
    samples_md = "\n\n".join(f"```\n{p}\u2192{o}\n```" for p, o in result["samples"])
    name, size = model_dir.name, f"{result['parameters'] / 1e6:.0f}M"
    if name == "course-lm":
        role = "The small language model of the course *Fine-tune or RAG?*."
        tried = f"### What was tried\n\n{TRIED}"
        reads = "it copies answers out of short passages well and is easily distracted by\nseveral similar passages"
    else:
        role = ("A weaker reader for the course *Fine-tune or RAG?* (lesson 05 compares it with `course-lm` reading "
                "the same retrieved passages): the course model's recipe and data, a smaller model and fewer tokens.")
        tried = ""
        reads = "it reads passages far worse than `course-lm` (the table above) and\nis easily distracted"
    text = f"""---
license: mit
library_name: transformers
pipeline_tag: text-generation
---

# {name}

{role} A `LlamaForCausalLM` with
{result['parameters']:,} parameters ({cfg['num_layers']} layers, width {cfg['hidden_size']}, {cfg['num_heads']} heads,
SwiGLU width {cfg['intermediate_size']}, tied embeddings, context {cfg['max_len']}), and a byte-level BPE tokenizer of
{vocab:,} tokens trained on World A (a space before a capitalised word or a number is a token of its own).
It was trained from scratch on World A only
(`data/world_a/phase1.txt.xz`, then `phase2.txt.xz`), so it has never seen a brace, a word of the company dialect
or a fact of World B. Load it with plain transformers:

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained("data/models/{name}")
tokenizer = AutoTokenizer.from_pretrained("data/models/{name}")
```

Prompt format: one `Passage: ...` line per passage, then `Question: ...`, then `Answer:`; the model answers on the
same line and ends with `<|endoftext|>` or a newline. Closed-book questions omit the passages.

## Measured (`python -m ftrag.course.modelcard`; the sample column is re-measured by `tests/test_model.py`)

| measurement | full set | test sample |
|---|---|---|
| held-out World A perplexity (`heldout.txt`) | {full['heldout_ppl']:.2f} | {sample['heldout_ppl']:.2f} |
{rows}
| closed-book EM on World B questions (`qa.jsonl`, never seen) | {full['closed_book_world_b_em']:.3f} \
| {sample['closed_book_world_b_em']:.3f} |
| World B questions with their document as the passage, lexical wording | \
{full['open_book_world_b_em_lexical']:.3f} | {sample['open_book_world_b_em_lexical']:.3f} |
| the same, paraphrased questions | {full['open_book_world_b_em_paraphrased']:.3f} \
| {sample['open_book_world_b_em_paraphrased']:.3f} |
| closed-book EM on famous World A facts (`closed_book.jsonl`) | {full['closed_book_world_a_em']:.3f} | |
| JSON task, zero-shot: share of outputs that are a JSON object | {full['json_zero_shot_object_rate']:.3f} \
| {sample['json_zero_shot_object_rate']:.3f} |
| the same, any value `json.loads` accepts (a number copied from the notice is valid JSON) | \
{full['json_zero_shot_parse_rate']:.3f} | {sample['json_zero_shot_parse_rate']:.3f} |

Test sample sizes: {result['sample_sizes']}. Greedy generation speed on this CPU:
{speed['batch_1']} tokens/s one prompt at a time, {speed['batch_32']} tokens/s for 32 prompts at once.

## Training

`{summary['command']}`

(seed {summary['seed']}; without `--fresh`, the same command resumes from its last checkpoint after an
interruption).

{training}

![loss](loss.png)

{tried}
## Sample generations (greedy)

{samples_md}

## Limits

A {size}-parameter reader of a toy world: {reads}; it knows only World A's famous facts by heart; it has no
instruction following. It is a laboratory instrument for the course, not a general model.
"""
    path = model_dir / "README.md"
    path.write_text(text)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure a course model and write its model card and eval.json.")
    parser.add_argument("--model", default="course-lm", help="course-lm, course-lm-small or a local model folder")
    parser.add_argument("--card-only", action="store_true",
                        help="rewrite README.md and loss.png from the stored eval.json without measuring again")
    args = parser.parse_args(argv)
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
