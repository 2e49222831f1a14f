"""The decision guide's rows: when to fine-tune, retrieve, both or neither, each with evidence read from ``results/``.
"""

from __future__ import annotations

import re

from ftrag.results import load_results

LESSONS = {"02": "02_json_finetuning", "03": "03_dialect_finetuning", "04": "04_rag_pipeline",
           "05": "05_finetune_or_rag"}
LINKS = {k: f"../notebooks/{v}.ipynb" for k, v in LESSONS.items()}

# (situation, what to do, evidence). In the evidence, {NN:key} is results/NN_*.json's value for key, and
# {NN:key:FORMAT} formats it (Python format spec); [NN] links the lesson.
ROWS = [
    ("The model must produce a format or behaviour it has never seen (JSON with a schema, a fixed style of output)",
     "**Fine-tune** (LoRA is enough)",
     "zero-shot parse rate {02:zero_shot_parse:.3f}; after LoRA on {02:lora_trained_percent:.1f}% of the "
     "weights: parse {02:lora_parse:.3f}, field exact match {02:lora_field_em:.3f} [02]"),
    ("Only the syntax must be valid (any well-formed JSON will do)",
     "**Neither**: constrained decoding, no training",
     "parse rate {02:constrained_parse:.2f} with a grammar and no training, but field exact match "
     "{02:constrained_field_em:.3f}: the content still needs fine-tuning or a better model [02]"),
    ("A corpus with its own dialect: codes, fixed phrases, house conventions",
     "**Fine-tune** (continued pretraining)",
     "dialect perplexity {03:base_dialect_ppl:,.0f} -> {03:lora_dialect_ppl:,.0f} after 40 LoRA steps; on the "
     "memos tried both ways, {03:lora_ppl_same_memos:,.0f} after LoRA vs {03:best_rag_context_ppl:,.0f} with the "
     "best retrieved memos in the context; closing-line exact match "
     "{03:closing_em_finetuned:.2f} fine-tuned vs {03:closing_em_rag:.2f} with retrieval, {03:closing_em_base:.2f} "
     "base [03]"),
    ("New facts the model has never seen",
     "**Retrieve** (RAG)",
     "exact match {05:rag_em:.3f} with RAG vs {05:docs_full_em:.3f} after continued pretraining on the same "
     "documents (closed-book {05:closed_book_em:.3f}) [05]; on all of World B, RAG {04:rag_em:.3f} vs "
     "closed-book {04:closed_book_em:.3f} [04]"),
    ("Facts that must be stated in answers to questions worded any way",
     "**Retrieve**; fine-tuning needs paraphrases *and* QA examples and still trails",
     "fine-tuned on 10 paraphrases per document plus QA pairs: exact match {05:mixed_k10_em:.3f} (1 rendering: "
     "{05:mixed_k1_em:.3f}); multiple choice {05:mixed_k10_mc:.3f} vs {05:mixed_k1_mc:.3f}; RAG {05:rag_em:.3f} "
     "[05]"),
    ("Users ask the questions you could train on",
     "**Retrieve**: trained question strings do not generalise",
     "exact match {05:memorised_em_trained_wording:.3f} on the trained wording, {05:memorised_em_reworded:.3f} on "
     "the same facts reworded [05]"),
    ("Facts change (prices, deadlines) or arrive daily",
     "**Retrieve**: replace the document",
     "adding a fact: RAG embeds {05:rag_add_fact_tokens:,.0f} tokens (milliseconds); fine-tuning on the changed "
     "document processes {05:ft_update_fact_tokens:,.0f} tokens ({05:ft_update_fact_seconds:.1f} s) [05]"),
    ("RAG retrieves look-alike documents and the reader is confused by them",
     "**Both**: fine-tune the reader on retrieval-style prompts (RAFT), and retrieve fewer, better passages",
     "gold document among 2 look-alikes: exact match {05:plain_reader_gold_2:.3f} -> {05:raft_reader_gold_2:.3f} "
     "after RAFT training (gold alone {05:plain_reader_gold_0:.3f} -> {05:raft_reader_gold_0:.3f}) [05]; 8 "
     "retrieved passages read worse than 1: {04:em_8_passages:.3f} vs {04:em_1_passage:.3f} [04]"),
    ("The reader itself is weak",
     "**Neither** fine-tuning nor retrieval tuning first: a bigger model",
     "the same retrieved passages read by a smaller reader: exact match {05:weak_reader_rag_em:.3f} vs "
     "{05:course_reader_rag_em:.3f} by the course model [05]"),
    ("You fine-tune, and the model must keep what it knew",
     "**LoRA** rather than full fine-tuning; check a held-out set",
     "World A perplexity after training on the dialect {03:full_world_a_ppl:.2f} (full) vs {03:lora_world_a_ppl:.2f} "
     "(LoRA), base {03:base_world_a_ppl:.2f} [03]; after the fact documents {05:docs_full_world_a_ppl:.3f} vs "
     "{05:docs_lora_world_a_ppl:.3f}, base {05:base_world_a_ppl:.3f} [05]"),
]

_FIELD = re.compile(r"\{(\d\d):([a-z0-9_]+)(?::([^}]*))?\}")
_LINK = re.compile(r"\[(\d\d)\]")


def _values() -> dict[str, dict]:
    return {lesson: load_results(stem) for lesson, stem in LESSONS.items()}


def fill(template: str, values: dict[str, dict] | None = None, *, links: bool = True) -> str:
    """``template`` with every ``{NN:key[:fmt]}`` replaced by the lesson's recorded value (and ``[NN]`` linked)."""
    values = values if values is not None else _values()

    def number(match: re.Match) -> str:
        lesson, key, spec = match.group(1), match.group(2), match.group(3) or ""
        if lesson not in values:
            raise KeyError(f"no results file for lesson {lesson}; known: {sorted(values)}")
        if key not in values[lesson]:
            raise KeyError(f"results/{LESSONS[lesson]}.json has no {key!r}; rerun lesson {lesson} "
                           f"(`python -m ftrag.course.refresh notebooks/{LESSONS[lesson]}.ipynb`)")
        return format(values[lesson][key], spec)

    text = _FIELD.sub(number, template)
    if links:
        return _LINK.sub(lambda m: f"([lesson {m.group(1)}]({LINKS[m.group(1)]}))", text)
    return _LINK.sub(lambda m: f"(lesson {m.group(1)})", text)


def table(values: dict[str, dict] | None = None):
    """The guide as a DataFrame (situation, do, evidence), numbers filled in."""
    import pandas as pd

    values = values if values is not None else _values()
    return pd.DataFrame([{"situation": s, "do": d.replace("**", ""), "evidence": fill(e, values, links=False)}
                         for s, d, e in ROWS])
