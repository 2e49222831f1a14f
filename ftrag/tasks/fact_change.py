"""Lesson 05's changing facts: a value in the knowledge base changes, and each method has to follow.

With RAG the document is replaced and the index rebuilt; a fine-tuned model has to be trained on the new version.
``change_target`` is the one price the lesson changes live; ``change_targets`` picks 20 facts of the evaluation half
(the sweep changes them all at once in its strongest arm), and ``count_values`` says how many answers give the new
value, the old one, or something else.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence

from ftrag.files import read_jsonl
from ftrag.lm import answer_questions, contains_answer, format_prompt, normalize_answer, pad_id_of, uses_chat
from ftrag.retrieval import BM25Retriever, chunk_documents
from ftrag.retrieval.rag import answer_with_passages, retrieve_passages
from ftrag.tasks.facts import FactSet, renderings
from ftrag.tasks.injection import BATCH_SIZE, LR, REPLAY, packed_examples, train_texts
from ftrag.tasks.knowledge_scores import answer_hits, answer_tokens
from ftrag.tasks.multiple_choice import option_log_likelihoods
from ftrag.train import TrainConfig, train

UPDATE_STEPS = 10  # steps on one changed document's renderings (the lesson's live change)
N_CHANGED = 20  # facts the sweep changes at once
STEPS_PER_CHANGED = 5  # ... with this many steps per changed fact (100 steps: ~5 passes over their renderings)


def changed_document(doc: dict, old: str, new: str) -> dict:
    """``doc`` with every occurrence of the value ``old`` replaced by ``new`` (a price rises, a deadline moves)."""
    if not re.search(_span(old), doc["text"]):
        raise ValueError(f"{old!r} does not occur in {doc['doc_id']}; pick a value the document states")
    return {**doc, "text": re.sub(_span(old), lambda _: new, doc["text"])}


def changed_renderings(doc: dict, old: str, new: str, k: int) -> list[str]:
    """The first ``k`` renderings of ``doc`` with ``old`` replaced by ``new`` (the new version to train on)."""
    return [re.sub(_span(old), lambda _: new, text) for text in renderings([doc], k)]


def value_preference(model, tokenizer, question: str, old: str, new: str, passages: Sequence[str] = ()) -> float:
    """log p(new) - log p(old) as the answer to ``question``: > 0 when the model prefers the new value."""
    old_ll, new_ll = option_log_likelihoods(model, tokenizer, [format_prompt(question, passages)], [[old, new]])[0]
    return new_ll - old_ll


def change_target(facts: FactSet) -> dict:
    """The fact that changes in the lesson: the list price of the first product in the evaluation half."""
    doc = next(d for d in facts.eval_docs if d["type"] == "product")
    fact = next(f for f in read_jsonl("knowledge", "facts.jsonl")
                if f["doc_id"] == doc["doc_id"] and f["relation"] == "price")
    digits = int(fact["value"].strip("$").replace(",", ""))
    new = f"${digits * 2 + 1:,}"  # doubled: a value the model has never seen for this product
    questions = [r for r in facts.eval_qa if r["fact_id"] == fact["fact_id"]]
    return {"doc": doc, "old": fact["value"], "new": new, "questions": questions}

def _span(value: str) -> str:
    return rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"


def change_targets(facts: FactSet, n: int = N_CHANGED, seed: int = 0) -> list[dict]:
    """``n`` facts of the evaluation half (one per document, a seeded relation), each given a new value: a value of
    the same type from a document the arms never trained on, stated once in every rendering of the document after
    the change. Each target: doc, fact_id, old, new, questions (its evaluation rows)."""
    trained = set(facts.doc_ids)
    all_facts = read_jsonl("knowledge", "facts.jsonl")
    pools: dict[str, list[str]] = {}
    for f in all_facts:
        if f["doc_id"] not in trained and f["value"] not in pools.setdefault(f["answer_type"], []):
            pools[f["answer_type"]].append(f["value"])
    rng = random.Random(f"{seed}:change")
    targets = []
    for doc in facts.eval_docs:
        texts = renderings([doc], 10)
        options = [f for f in all_facts if f["doc_id"] == doc["doc_id"]]
        rng.shuffle(options)
        for fact in options:
            new = [v for v in pools.get(fact["answer_type"], [])
                   if normalize_answer(v) != normalize_answer(fact["value"]) and not any(v in t for t in texts)]
            if new and all(len(re.findall(_span(fact["value"]), t)) == 1 for t in texts):
                targets.append({"doc": doc, "fact_id": fact["fact_id"], "old": fact["value"], "new": rng.choice(new),
                                "questions": [r for r in facts.eval_qa if r["fact_id"] == fact["fact_id"]]})
                break
        if len(targets) == n:
            return targets
    raise ValueError(f"found {len(targets)} facts to change, not {n}: use a smaller n")


def changed_documents(docs: Sequence[dict], targets: Sequence[dict]) -> list[dict]:
    """``docs`` with every target's document replaced by its new version."""
    by_id = {t["doc"]["doc_id"]: changed_document(t["doc"], t["old"], t["new"]) for t in targets}
    return [by_id.get(d["doc_id"], d) for d in docs]


def value_labels(answers: Sequence[str], targets: Sequence[dict], contains: bool = False) -> list[str]:
    """"new", "old" or "other" for each answer (in the order of the targets' questions): the normalised answer equals
    the value, or with ``contains`` (an instruct model's sentences) the answer contains it as whole words."""
    expected = [(t["new"], t["old"]) for t in targets for _ in t["questions"]]
    if len(answers) != len(expected):
        raise ValueError(f"got {len(answers)} answers for {len(expected)} questions")

    def gives(answer: str, value: str) -> bool:
        if contains:
            return contains_answer([answer], [value]) == 1.0
        return normalize_answer(answer) == normalize_answer(value)

    return ["new" if gives(answer, new) else "old" if gives(answer, old) else "other"
            for answer, (new, old) in zip(answers, expected, strict=True)]


def count_values(answers: Sequence[str], targets: Sequence[dict], contains: bool = False) -> dict[str, int]:
    """How many answers (in the order of the targets' questions) give the new value, the old one, or neither."""
    labels = value_labels(answers, targets, contains)
    return {key: labels.count(key) for key in ("new", "old", "other")}


def new_hits(answers: Sequence[str], targets: Sequence[dict], contains: bool = False) -> str:
    """'1' where an answer (in the order of the targets' questions) gives the new value, else '0': the per-question
    hits that a paired bootstrap (``ftrag.stats``) resamples."""
    return "".join("1" if label == "new" else "0" for label in value_labels(answers, targets, contains))


def rag_update(model, tokenizer, facts: FactSet, targets: Sequence[dict]) -> dict:
    """RAG's side of the change: replace the documents, rebuild BM25 over all of World B, answer the targets'
    questions. Returns the counts before and after, the answers after and their new-value hits, and the seconds the
    rebuild took. An instruct model (its chat template) gets a sentence's answer budget and is scored by containment,
    as in the lesson's RAG."""
    questions = [r["question"] for t in targets for r in t["questions"]]
    budget, contains = answer_tokens(tokenizer), uses_chat(tokenizer)
    before = answer_with_passages(model, tokenizer, questions, retrieve_passages(
        BM25Retriever(chunk_documents(facts.docs)), questions, 1), max_new_tokens=budget)
    start = time.perf_counter()
    index = BM25Retriever(chunk_documents(changed_documents(facts.docs, targets)))
    seconds = time.perf_counter() - start
    after = answer_with_passages(model, tokenizer, questions, retrieve_passages(index, questions, 1),
                                 max_new_tokens=budget)
    return {"before": count_values(before, targets, contains), "after": count_values(after, targets, contains),
            "answers_after": after, "new_hits": new_hits(after, targets, contains),
            "reindex_seconds": round(seconds, 4)}


def update_facts(model, tokenizer, facts: FactSet, targets: Sequence[dict], method: str, *, seed: int = 0,
                 lr: float | None = None, steps: int | None = None, batch_size: int = BATCH_SIZE,
                 eval_rows: Sequence[dict] | None = None) -> dict:
    """Train ``model`` on the ten renderings of every changed document at once (with World A replay, as the arm
    trained), ``steps`` steps of ``batch_size`` blocks (None: ``STEPS_PER_CHANGED`` per fact). Returns the counts of
    new / old / other answers before and after, exact match on the evaluation questions (``eval_rows``; None: all)
    whose facts did not change (did anything else move?) and how many they are, the answers after and their
    new-value hits, and the cost. An instruct model (its chat template) gets a sentence's answer budget and is scored
    by containment, as everywhere in lesson 05."""
    changed = {t["fact_id"] for t in targets}
    questions = [r["question"] for t in targets for r in t["questions"]]
    unchanged = [r for r in (facts.eval_qa if eval_rows is None else eval_rows) if r["fact_id"] not in changed]
    budget, contains = answer_tokens(tokenizer), uses_chat(tokenizer)

    def unchanged_em() -> float:
        answers = answer_questions(model, tokenizer, [r["question"] for r in unchanged], max_new_tokens=budget)
        return round(sum(answer_hits(tokenizer, answers, unchanged)) / len(unchanged), 4) if unchanged else 0.0

    before, em_before = answer_questions(model, tokenizer, questions, max_new_tokens=budget), unchanged_em()
    texts = [text for t in targets for text in changed_renderings(t["doc"], t["old"], t["new"], 10)]
    steps = STEPS_PER_CHANGED * len(targets) if steps is None else steps
    model, result = train_update(model, tokenizer, texts, method, seed=seed, steps=steps, lr=lr,
                                 batch_size=batch_size, replay=REPLAY)
    after = answer_questions(model, tokenizer, questions, max_new_tokens=budget)
    return {"facts": [{"fact_id": t["fact_id"], "old": t["old"], "new": t["new"]} for t in targets],
            "questions": questions, "before": count_values(before, targets, contains),
            "after": count_values(after, targets, contains), "answers_after": after,
            "new_hits": new_hits(after, targets, contains), "unchanged_n": len(unchanged),
            "unchanged_em_before": em_before, "unchanged_em_after": unchanged_em(), "steps": steps,
            "update_seconds": round(result.seconds, 2), "update_tokens": result.tokens}


def update_fact(model, tokenizer, facts: FactSet, method: str, *, seed: int = 0, lr: float | None = None,
                steps: int = UPDATE_STEPS, batch_size: int = BATCH_SIZE) -> dict:
    """Train ``model`` on the changed document's renderings (``steps`` steps of ``batch_size`` blocks, at ``lr``; None:
    the method's rate); what it answers before and after (new / old / other, and the answers), log p(new) - log p(old)
    after, and the cost. An instruct model (its chat template) gets a sentence's answer budget and is scored by
    containment, as in ``update_facts``."""
    target = change_target(facts)
    questions = [r["question"] for r in target["questions"]]
    budget, contains = answer_tokens(tokenizer), uses_chat(tokenizer)
    before = answer_questions(model, tokenizer, questions, max_new_tokens=budget)
    texts = changed_renderings(target["doc"], target["old"], target["new"], 10)
    model, result = train_update(model, tokenizer, texts, method, seed=seed, steps=steps, lr=lr,
                                 batch_size=batch_size)
    after = answer_questions(model, tokenizer, questions, max_new_tokens=budget)
    return {"old": target["old"], "new": target["new"], "questions": questions, "before": before, "after": after,
            "counts_before": count_values(before, [target], contains),
            "counts_after": count_values(after, [target], contains),
            "preference_after": [round(value_preference(model, tokenizer, q, target["old"], target["new"]), 3)
                                 for q in questions],
            "steps": steps, "batch_size": batch_size,
            "update_seconds": round(result.seconds, 2), "update_tokens": result.tokens}


def train_update(model, tokenizer, texts: Sequence[str], method: str, *, seed: int, steps: int, lr: float | None,
                 batch_size: int, replay: float = 0.0):
    """An update's training on the changed documents' ``texts``: a LoRA model keeps training its adapter
    (``train_more``), any other trains all its weights (``train_texts``); returns (model, TrainResult)."""
    if method == "lora":
        return train_more(model, tokenizer, texts, seed=seed, steps=steps, replay=replay, lr=lr, batch_size=batch_size)
    return train_texts(model, tokenizer, texts, method="full", steps=steps, seed=seed, progress=False, replay=replay,
                       lr=lr, batch_size=batch_size)


def train_more(model, tokenizer, texts: Sequence[str], *, seed: int = 0, steps: int = UPDATE_STEPS,
               replay: float = 0.0, lr: float | None = None, batch_size: int = BATCH_SIZE):
    """Continue training the trainable parameters a model already has (an adapter) on ``texts``."""
    examples = packed_examples(tokenizer, texts, steps=steps, batch_size=batch_size, seed=seed, replay=replay)
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr or LR["lora"], warmup_steps=1, seed=seed,
                         progress=False)
    return model, train(model, examples, config, pad_id=pad_id_of(tokenizer))
