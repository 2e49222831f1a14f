"""How lesson 05 scores an arm: closed-book exact match and multiple choice, reading with passages, the reader's
tests with look-alike documents, World A (forgetting), and the validation scores that choose a run's step.

Every rate comes with its per-question hits (a string of 0/1, in the rows' order), so that intervals and paired
differences can be computed later (``ftrag.stats``). On an instruct model (one with a chat template), which answers
in sentences, a hit is a reply that contains the answer (``answer_hits``) and "exact match" in the keys means that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ftrag.files import read_jsonl
from ftrag.lm import answer_questions, contains_answer, normalize_answer, uses_chat, world_a_scores
from ftrag.retrieval.rag import answer_with_passages
from ftrag.tasks.facts import FactSet, fewer_than_asked, rag_passages, reading_passages, trained_facts
from ftrag.tasks.multiple_choice import mc_accuracy, options_for


def hits_string(hits: Sequence[bool]) -> str:
    """Per-question hits as a compact string ("0110..."), the form the sweep's rows store them in."""
    return "".join("1" if h else "0" for h in hits)


def closed_book_scores(model, tokenizer, rows: Sequence[dict], facts_rows: Sequence[dict] | None = None, *,
                       multiple_choice: bool = True) -> dict:
    """Exact match (greedy answer) and 4-way multiple-choice accuracy, overall and by question kind
    (``multiple_choice=False``: exact match only). The options' distractors are values from ``facts_rows``
    (default: every World B fact; the sweep passes the trained documents' facts, ``trained_facts``)."""
    facts_rows = facts_rows if facts_rows is not None else read_jsonl("knowledge", "facts.jsonl")
    predictions = answer_questions(model, tokenizer, [r["question"] for r in rows],
                                   max_new_tokens=answer_tokens(tokenizer))
    em_hits = answer_hits(tokenizer, predictions, rows)
    out = {"em": _mean(em_hits), "em_hits": hits_string(em_hits)}
    if multiple_choice:
        _, picks = mc_accuracy(model, tokenizer, rows, options_for(rows, facts_rows))
        mc_hits = [normalize_answer(p) == normalize_answer(r["answer"]) for p, r in zip(picks, rows, strict=True)]
        out.update(mc=_mean(mc_hits), mc_hits=hits_string(mc_hits))
    for kind in ("lexical", "paraphrased"):
        idx = [i for i, r in enumerate(rows) if r.get("kind") == kind]
        out[f"em_{kind}"] = _mean([em_hits[i] for i in idx])
        if multiple_choice:
            out[f"mc_{kind}"] = _mean([mc_hits[i] for i in idx])
    return out


def reading_em(model, tokenizer, rows: Sequence[dict], passages_list: Sequence[Sequence[str]], *,
               batch_size: int = 32) -> dict:
    """Exact match with the given passages in the prompt (retrieved ones: RAG), overall and by question kind
    (``batch_size`` prompts generated at once: fewer hold less memory)."""
    predictions = answer_with_passages(model, tokenizer, [r["question"] for r in rows], passages_list,
                                       max_new_tokens=answer_tokens(tokenizer), batch_size=batch_size)
    hits = answer_hits(tokenizer, predictions, rows)
    out = {"em": _mean(hits), "hits": hits_string(hits)}
    for kind in ("lexical", "paraphrased"):
        out[f"em_{kind}"] = _mean([h for h, r in zip(hits, rows, strict=True) if r.get("kind") == kind])
    return out


def answer_tokens(tokenizer) -> int:
    """New tokens for an answer: 12 for the course model's short values, 24 for an instruct model's sentence."""
    return 24 if uses_chat(tokenizer) else 12


def answer_hits(tokenizer, predictions: Sequence[str], rows: Sequence[dict]) -> list[bool]:
    """Per-question hits: exact match of the normalised answer for the course model; for an instruct model (its
    chat template), whether the reply contains the answer (it answers in sentences: "The outage ran for 7 hours.")."""
    if uses_chat(tokenizer):
        return [contains_answer([p], [r["answer"]]) == 1.0 for p, r in zip(predictions, rows, strict=True)]
    return [normalize_answer(p) == normalize_answer(r["answer"]) for p, r in zip(predictions, rows, strict=True)]


def _mean(values: Sequence[bool | float]) -> float:
    return round(sum(values) / len(values), 4) if values else float("nan")


def reader_scores(model, tokenizer, facts: FactSet, rows: Sequence[dict], *, batch_size: int = 32) -> dict:
    """A reader's exact match with the gold document alone, among 2 and 4 look-alikes (as many as fit: never the
    gold one cut; ``short_N``: prompts that held fewer than N), and with RAG's passage (``hits_*``: per question;
    ``batch_size``: prompts generated at once)."""
    out: dict = {}
    for n in (0, 2, 4):
        lists = reading_passages(facts, rows, n, tokenizer=tokenizer)
        scores = reading_em(model, tokenizer, rows, lists, batch_size=batch_size)
        out[f"gold_{n}"], out[f"hits_gold_{n}"] = scores["em"], scores["hits"]
        if n:
            out[f"short_{n}"] = fewer_than_asked(lists, n)
    scores = reading_em(model, tokenizer, rows, rag_passages(facts, rows), batch_size=batch_size)
    out["rag"], out["hits_rag"] = scores["em"], scores["hits"]
    return out


def arm_scores(model, tokenizer, facts: FactSet, rag: Sequence[Sequence[str]]) -> dict:
    """Every metric of a row: closed-book EM/MC (evaluation half; distractors from trained facts), closed-book EM
    on the train half's questions, EM with RAG's passages (the model as the reader), and World A (forgetting)."""
    scores = closed_book_scores(model, tokenizer, facts.eval_qa, trained_facts(facts))
    scores["em_train_half"] = closed_book_scores(model, tokenizer, facts.train_qa, multiple_choice=False)["em"]
    scores.update({f"rag_{k}": v for k, v in reading_em(model, tokenizer, facts.eval_qa, rag).items()})
    scores.update(world_a_scores(model, tokenizer))
    return scores


def fact_validation(tokenizer, facts: FactSet) -> Callable[[object], tuple[float, float]]:
    """``model -> (EM, MC)`` on the validation documents' questions: what early stopping and the learning-rate grid
    of the fact arms maximise (exact match first; multiple choice breaks ties, as when EM is near zero)."""
    options = trained_facts(facts)

    def score(model) -> tuple[float, float]:
        scores = closed_book_scores(model, tokenizer, facts.valid_qa, options)
        return scores["em"], scores["mc"]
    return score


def reader_validation(tokenizer, facts: FactSet) -> Callable[[object], tuple[float]]:
    """``model -> (EM,)`` reading the validation questions with their gold document among 2 look-alikes: what a
    reader's early stopping maximises."""
    lists = reading_passages(facts, facts.valid_qa, 2, tokenizer=tokenizer)

    def score(model) -> tuple[float]:
        return (reading_em(model, tokenizer, facts.valid_qa, lists)["em"],)
    return score
