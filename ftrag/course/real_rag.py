"""Lesson 04 on a real model: SmolLM2-135M-Instruct as the RAG reader on World B.

``python -m ftrag.course.real_rag`` keeps lesson 04's retrieval exactly (the same whole-document and sentence
chunks, BM25, MiniLM and their hybrid; retrieval does not depend on the reader) and changes only the reader: the
real model, prompted in its chat template (``prompt_for``). On lesson 04's fixed sample of questions (the same
``random.Random(0).sample``) it measures closed-book, RAG (BM25, top 1 document), the oracle (the gold document),
the dilution curve (top k sentence chunks of the hybrid retriever, k = 1, 2, 3, 5, 8) and the gold document's
position among two look-alikes.

A 135M instruct model answers in sentences ("The outage ran for 7 hours.") more often than with the bare answer,
so every arm records exact match, token F1 and containment (the answer's words inside the reply), and the keys
the decision guide reads (``rag_em``, ``em_1_passage``...) hold **containment** for this model
(``answer_metric`` in the file says so; strict exact match is beside them as ``*_strict_em``): the guide compares
arms of the same model with each other, and containment is what tells a right sentence from a wrong one.

Each arm is a row of ``--out`` (a :class:`SweepFile`): an interrupted run resumes at the first arm not recorded.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from ftrag import retrieval
from ftrag.cli import arg
from ftrag.course.real_runs import ANSWER_METRIC, RealRun, command_line, metric_key, reading_scores
from ftrag.env import seed_everything
from ftrag.files import read_jsonl
from ftrag.lm import generate, load_model, prompt_for
from ftrag.retrieval import rag

DEFAULT_OUT = "results/smollm2/04_rag_pipeline.json"
N_QUESTIONS = 200  # lesson 04's N_SUBSET: its fixed sample for the slower experiments
MAX_NEW_TOKENS = 32  # a sentence answer needs room (16 cut some before their answer: the model card)
DILUTION_K = (1, 2, 3, 5, 8)
POSITIONS = ("first", "middle", "last")


def _arms(docs, qa, subset):
    """Each arm: a function of (model, tokenizer) returning its predictions on the subset's questions."""
    questions = [qa[i]["question"] for i in subset]
    gold = [qa[i]["doc_id"] for i in subset]
    by_id = {d["doc_id"]: d["text"] for d in docs}
    course_tok = load_model(device="cpu")[1]  # lesson 04 chunked by the course model's tokens: the same chunks
    chunks = retrieval.chunk_documents(docs)
    sentences = retrieval.chunk_sentences(docs, course_tok, max_tokens=48)
    embedder = retrieval.load_embedder()
    bm25 = retrieval.BM25Retriever(chunks)
    sent_hybrid = retrieval.HybridRetriever([retrieval.DenseRetriever(sentences, embedder),
                                             retrieval.BM25Retriever(sentences)])

    def read(model, tok, passages):
        return rag.answer_with_passages(model, tok, questions, passages, max_new_tokens=MAX_NEW_TOKENS)

    arms = {"closed_book": lambda m, t: generate(m, t, [prompt_for(t, q) for q in questions],
                                                 max_new_tokens=MAX_NEW_TOKENS),
            "oracle": lambda m, t: read(m, t, [[by_id[g]] for g in gold]),
            "rag": lambda m, t: read(m, t, rag.retrieve_passages(bm25, questions, 1))}
    for k in DILUTION_K:
        arms[f"k{k}"] = lambda m, t, k=k: read(m, t, rag.retrieve_passages(sent_hybrid, questions, k))
    distractor_ids = bm25.search(questions, 6)[0]
    others = [[chunks[i].text for i in row if chunks[i].doc_id != g][:2] for row, g in zip(distractor_ids, gold,
                                                                                           strict=True)]
    for slot, name in enumerate(POSITIONS):
        arms[f"gold_{name}"] = lambda m, t, slot=slot: read(m, t, [o[:slot] + [by_id[g]] + o[slot:]
                                                                   for o, g in zip(others, gold, strict=True)])
    return arms


def sweep(out: str | Path = DEFAULT_OUT, *, model_name: str = "smollm2", n_questions: int = N_QUESTIONS,
          seed: int = 0) -> dict:
    """Every arm on lesson 04's sample of ``n_questions`` questions; rows already in ``out`` are kept."""
    docs, qa = read_jsonl("knowledge", "docs.jsonl"), read_jsonl("knowledge", "qa.jsonl")
    if not 1 <= n_questions <= len(qa):
        raise ValueError(f"n_questions must be between 1 and {len(qa)} (World B's questions), got {n_questions}")
    subset = random.Random(seed).sample(range(len(qa)), n_questions)
    answers = [qa[i]["answer"] for i in subset]
    budget = {"model": model_name, "n_questions": n_questions, "seed": seed, "max_new_tokens": MAX_NEW_TOKENS}
    run = RealRun(out, budget, f"python -m ftrag.course.real_rag --model {model_name} --n-questions {n_questions} "
                               f"--out {Path(out).as_posix()}", answer_metric=ANSWER_METRIC)
    model, tokenizer = load_model(model_name, device="cpu")
    for name, predict in _arms(docs, qa, subset).items():
        if not run.todo(name):
            continue
        seed_everything(seed)
        t0 = time.perf_counter()
        run.rows.add(name, reading_scores(predict(model, tokenizer), answers, time.perf_counter() - t0))
        r = run.rows.rows[name]
        print(f"{name}: contains {r['contains']:.3f}, exact match {r['strict_em']:.3f}, token F1 {r['token_f1']:.3f} "
              f"({r['seconds']:.0f} s)")
    return run.finish(guide_keys)


def guide_keys(record: dict) -> dict[str, float]:
    """The run's numbers under lesson 04's keys (``closed_book_em``, ``rag_em``, ``em_1_passage``...), the EM keys
    holding the file's ``answer_metric``; strict exact match as ``*_strict_em``."""
    rows, metric = record["rows"], metric_key(record)
    keys = {"closed_book_em": rows["closed_book"][metric], "rag_em": rows["rag"][metric],
            "oracle_em": rows["oracle"][metric], "em_1_passage": rows["k1"][metric],
            "em_8_passages": rows["k8"][metric],
            "em_gold_among_2_best_position": max(rows[f"gold_{p}"][metric] for p in POSITIONS)}
    for name, row in rows.items():
        keys[f"{name}_strict_em"], keys[f"{name}_token_f1"] = row["strict_em"], row["token_f1"]
    return keys


@dataclass
class RealRagArgs:
    """The flags of ``python -m ftrag.course.real_rag``."""

    model: str = arg("smollm2", "the reader (a name load_model accepts)")
    n_questions: int = arg(N_QUESTIONS, "World B questions (lesson 04's fixed sample)")
    threads: int = arg(2, "torch CPU threads (the recorded run: 2)")
    out: str = arg(DEFAULT_OUT, "JSON file of the rows")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.real_rag``: lesson 04's reading experiments with a real model as the reader."""
    return command_line(RealRagArgs, argv, prog="python -m ftrag.course.real_rag",
                        description="Lesson 04 on a real model: closed-book, RAG, the oracle, the dilution curve "
                                    "and the gold document's position, with lesson 04's retrieval.",
                        run=lambda a: sweep(a.out, model_name=a.model, n_questions=a.n_questions))


if __name__ == "__main__":
    raise SystemExit(main())
