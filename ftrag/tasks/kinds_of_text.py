"""Lesson 01's kinds of text: where a model is at home, and what is new to it.

A model's perplexity is per token of its own tokenizer, so two models' raw perplexities do not compare; each kind's
perplexity as a multiple of the model's own World A perplexity does. The decision guide reads those ratios as its
test of "a format or a dialect the model has never seen" (more than ten times World A)::

    texts = texts_by_kind(100)
    ppl = {kind: perplexity(model, tokenizer, batch) for kind, batch in texts.items()}
    save_results("01_autoregressive_prediction", perplexity_keys(ppl), model)
"""

from __future__ import annotations

import json

from ftrag.files import read_examples, read_jsonl

HOME = "World A (held out)"
KINDS = (HOME, "company dialect", "JSON objects")
KEY_NAMES = {HOME: "world_a", "company dialect": "dialect", "JSON objects": "json"}
STORY = "One morning, Anna Berg walked to the market in Belstrand. She bought some"  # the next-token prompt


def texts_by_kind(n_texts: int) -> dict[str, list[str]]:
    """The first ``n_texts`` of each kind: held-out World A text, the company dialect's memos (lesson 03) and the
    JSON objects of lesson 02's test notices."""
    if n_texts < 1:
        raise ValueError(f"n_texts must be >= 1, got {n_texts}")
    return {HOME: read_examples("world_a", "heldout.txt")[:n_texts],
            "company dialect": read_examples("dialect", "test.txt")[:n_texts],
            "JSON objects": [json.dumps(r["target"]) for r in read_jsonl("json_task", "test.jsonl")[:n_texts]]}


def perplexity_keys(ppl: dict[str, float]) -> dict[str, float]:
    """Lesson 01's results keys from each kind's perplexity: ``ppl_<kind>`` and ``ppl_ratio_<kind>`` (the kind's
    perplexity over World A's), the same for any model."""
    missing = [k for k in KINDS if k not in ppl]
    if missing:
        raise ValueError(f"perplexity_keys needs every kind of text; missing {missing} (kinds: {list(KINDS)})")
    out = {f"ppl_{KEY_NAMES[k]}": ppl[k] for k in KINDS}
    out |= {f"ppl_ratio_{KEY_NAMES[k]}": ppl[k] / ppl[HOME] for k in KINDS if k != HOME}
    return out
