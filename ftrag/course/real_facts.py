"""Lesson 05 on a real model, the live half: SmolLM2-135M-Instruct answering lesson 05's evaluation questions.

``python -m ftrag.course.real_facts`` uses lesson 05's fact set (``fact_set(seed=0)``) and its passages exactly (the
same BM25 top document for RAG; the gold document among the same look-alikes, fitted to the course model's 500
tokens, so that only the reader changes) and measures, with the real model as the reader:

- closed-book and RAG on every evaluation question, with prompt tokens and milliseconds per query;
- the reader's tests: the gold document alone, among 2 and among 4 look-alikes;
- a weaker reader (``course-lm-small``, 1.1M parameters, lesson 05's section 8) on RAG's same passages, scored the
  same way: the capacity point beside this model;
- the knowledge base in the context: World B's size in this model's tokens against its window (8,192), and, on
  the first ``--n-long`` questions, the gold document with as many other World B documents as fit the window
  (most of the base: what a long-context model makes possible, and what it costs per query).

The fine-tuning arms of lesson 05 (614k training tokens each) are not run here: at about 100 training tokens per
second on 2 cores each would take hours (``python -m ftrag.course.injection`` is the course model's command).

Scores: exact match, token F1 and containment (the reply contains the answer); the keys the guide reads
(``rag_em``, ``plain_reader_gold_0``...) hold containment for this model (``answer_metric``), strict exact match is
beside them (``*_strict_em``), as in ``ftrag.course.real_rag``. Each arm is a row of ``--out``: an interrupted
run resumes.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from ftrag.cli import arg
from ftrag.course.real_runs import ANSWER_METRIC, RealRun, command_line, metric_key, reading_scores
from ftrag.env import seed_everything
from ftrag.lm import generate, load_model, prompt_for
from ftrag.lm.generation import prompt_ids
from ftrag.retrieval.rag import answer_with_passages, context_length
from ftrag.tasks.facts import fact_set, rag_passages, reading_passages

DEFAULT_OUT = "results/smollm2/05_finetune_or_rag.json"
MAX_NEW_TOKENS = 32
WEAK_READER = "course-lm-small"  # lesson 05's weaker reader: RAG's passages read by 1.1M parameters
N_LONG = 8  # questions read with most of World B in the context (each prompt ~8k tokens: ~40 s on 2 cores)


def _length(tokenizer, prompt: str) -> int:
    """A prompt's length in tokens, as generation counts them."""
    return len(prompt_ids(tokenizer, prompt))


def long_contexts(docs, rows, tokenizer, window: int, seed: int = 0) -> list[list[str]]:
    """For each row, its gold document and as many other World B documents (in a seeded random order) as fit
    ``window`` minus room for the answer, shuffled with the gold one among them."""
    sizes = {d["doc_id"]: _length(tokenizer, "Passage: " + d["text"] + "\n") for d in docs}
    out = []
    for row in rows:
        rng = random.Random(f"{seed}:{row['id']}")
        gold = next(d for d in docs if d["doc_id"] == row["doc_id"])
        others = [d for d in docs if d["doc_id"] != row["doc_id"]]
        rng.shuffle(others)
        used = _length(tokenizer, prompt_for(tokenizer, row["question"], [gold["text"]]))
        kept = [gold]
        for doc in others:  # estimated by each passage's own tokens, then checked on the whole prompt below
            if used + sizes[doc["doc_id"]] > window - MAX_NEW_TOKENS:
                break
            kept.append(doc)
            used += sizes[doc["doc_id"]]
        rng.shuffle(kept)
        texts = [d["text"] for d in kept]
        while _length(tokenizer, prompt_for(tokenizer, row["question"], texts)) > window - MAX_NEW_TOKENS:
            texts.remove(next(t for t in reversed(texts) if t != gold["text"]))
        out.append(texts)
    return out


def sweep(out: str | Path = DEFAULT_OUT, *, model_name: str = "smollm2", n_questions: int | None = None,
          n_long: int = N_LONG, seed: int = 0) -> dict:
    """Every arm on lesson 05's evaluation questions (the first ``n_questions``; None: all); rows already in ``out``
    with the same budget are kept."""
    facts = fact_set(seed=seed)
    if n_questions is not None and not 1 <= n_questions <= len(facts.eval_qa):
        raise ValueError(f"n_questions must be between 1 and {len(facts.eval_qa)}, got {n_questions}")
    rows_qa = facts.eval_qa[:n_questions]
    if not 0 <= n_long <= len(rows_qa):
        raise ValueError(f"n_long must be between 0 and {len(rows_qa)} (the evaluation questions), got {n_long}")
    # n_long is not in the budget: only the long-context row depends on it (and records it as "n")
    budget = {"model": model_name, "seed": seed, "n_questions": len(rows_qa), "max_new_tokens": MAX_NEW_TOKENS}
    sample = f" --n-questions {n_questions}" if n_questions is not None else ""
    run = RealRun(out, budget, f"python -m ftrag.course.real_facts --model {model_name}{sample} --n-long {n_long} "
                               f"--out {Path(out).as_posix()}", answer_metric=ANSWER_METRIC)
    model, tokenizer = load_model(model_name, device="cpu")
    course_tok = load_model(device="cpu")[1]  # lesson 05 fitted its look-alikes to the course model's window
    window = context_length(model, tokenizer)
    questions, answers = [r["question"] for r in rows_qa], [r["answer"] for r in rows_qa]
    arms = {"closed_book": (questions, answers, None), "rag": (questions, answers, rag_passages(facts, rows_qa))}
    for n in (0, 2, 4):
        arms[f"gold_{n}"] = (questions, answers, reading_passages(facts, rows_qa, n, tokenizer=course_tok))
    if "long_context" in run.rows and run.rows.rows["long_context"]["n"] != n_long:
        run.rows.drop("long_context")  # recorded for another number of questions: make it again
    long_rows = rows_qa[:n_long]
    if n_long:
        arms["long_context"] = ([r["question"] for r in long_rows], [r["answer"] for r in long_rows],
                                long_contexts(facts.docs, long_rows, tokenizer, window, seed=seed))
    for name, (qs, ans, passages) in arms.items():
        if not run.todo(name):
            continue
        seed_everything(seed)
        prompts = [prompt_for(tokenizer, q, p or []) for q, p in zip(qs, passages or [None] * len(qs), strict=True)]
        t0 = time.perf_counter()
        if passages is None:
            predictions = generate(model, tokenizer, prompts, max_new_tokens=MAX_NEW_TOKENS)
        else:
            predictions = answer_with_passages(model, tokenizer, qs, passages, max_new_tokens=MAX_NEW_TOKENS,
                                               batch_size=4 if name == "long_context" else 32)
        seconds = time.perf_counter() - t0
        row = {**reading_scores(predictions, ans, seconds), "ms_per_query": round(1000 * seconds / len(ans), 1),
               "prompt_tokens": sum(_length(tokenizer, p) for p in prompts) / len(prompts), "n": len(ans)}
        if passages is not None:
            row["passages_per_prompt"] = sum(map(len, passages)) / len(passages)
        run.rows.add(name, row)
        print(f"{name}: contains {row['contains']:.3f}, exact match {row['strict_em']:.3f}, token F1 "
              f"{row['token_f1']:.3f}; {row['prompt_tokens']:.0f} prompt tokens, {row['ms_per_query']:.0f} ms/query")
    if run.todo("weak_reader_rag"):  # the same top documents, read by the weaker reader in its own format
        run.rows.add("weak_reader_rag", weak_reader_row(questions, answers, arms["rag"][2], seed))
    doc_tokens = [len(tokenizer(d["text"], add_special_tokens=False)["input_ids"]) for d in facts.docs]
    run.rows.record.update(world_b_tokens=sum(doc_tokens), context_tokens=window)
    return run.finish(guide_keys)


def weak_reader_row(questions, answers, passages, seed: int = 0) -> dict:
    """RAG's passages read by ``WEAK_READER`` (its own prompt format, the same answer budget), scored as the other
    rows: what a reader of little capacity makes of the same retrieval."""
    seed_everything(seed)
    weak, weak_tok = load_model(WEAK_READER, device="cpu")
    t0 = time.perf_counter()
    predictions = answer_with_passages(weak, weak_tok, questions, passages, max_new_tokens=MAX_NEW_TOKENS)
    seconds = time.perf_counter() - t0
    return {**reading_scores(predictions, answers, seconds), "model": WEAK_READER, "n": len(answers),
            "ms_per_query": round(1000 * seconds / len(answers), 1),
            "passages_per_prompt": sum(map(len, passages)) / len(passages)}


def guide_keys(record: dict) -> dict[str, float]:
    """The run's numbers under lesson 05's keys, the EM keys holding the file's ``answer_metric``."""
    rows = record["rows"]
    metric = metric_key(record)
    keys = {"closed_book_em": rows["closed_book"][metric], "rag_em": rows["rag"][metric],
            **{f"plain_reader_gold_{n}": rows[f"gold_{n}"][metric] for n in (0, 2, 4)},
            "world_b_tokens": record["world_b_tokens"], "context_tokens": record["context_tokens"],
            "rag_prompt_tokens": rows["rag"]["prompt_tokens"],
            "closed_book_prompt_tokens": rows["closed_book"]["prompt_tokens"],
            "rag_ms_per_query": rows["rag"]["ms_per_query"],
            "closed_book_ms_per_query": rows["closed_book"]["ms_per_query"]}
    if "weak_reader_rag" in rows:  # lesson 05's capacity row: this model and the weaker reader on RAG's passages
        keys.update(course_reader_rag_em=rows["rag"][metric], weak_reader_rag_em=rows["weak_reader_rag"][metric])
    if "long_context" in rows:
        keys.update(long_context_em=rows["long_context"][metric],
                    long_context_prompt_tokens=rows["long_context"]["prompt_tokens"],
                    long_context_ms_per_query=rows["long_context"]["ms_per_query"])
    for name, row in rows.items():
        keys[f"{name}_strict_em"], keys[f"{name}_token_f1"] = row["strict_em"], row["token_f1"]
    return keys


@dataclass
class RealFactsArgs:
    """The flags of ``python -m ftrag.course.real_facts``."""

    model: str = arg("smollm2", "the reader (a name load_model accepts)")
    n_questions: int | None = arg(None, "only the first N evaluation questions (not given: all)")
    n_long: int = arg(N_LONG, "questions read with most of World B in the context (0: skip that arm)")
    threads: int = arg(2, "torch CPU threads (the recorded run: 2)")
    out: str = arg(DEFAULT_OUT, "JSON file of the rows")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.real_facts``: lesson 05's reading arms with a real model as the reader."""
    return command_line(RealFactsArgs, argv, prog="python -m ftrag.course.real_facts",
                        description="Lesson 05 on a real model: closed-book, RAG, the reader among look-alikes and "
                                    "most of the knowledge base in the context, on lesson 05's questions.",
                        run=lambda a: sweep(a.out, model_name=a.model, n_questions=a.n_questions, n_long=a.n_long))


if __name__ == "__main__":
    raise SystemExit(main())
