"""Lesson 03's completion task: does a model end a company memo with the closing line the dialect requires?

A memo (``data/dialect``) ends with one of twelve fixed phrases, chosen by the memo's type *and* priority, both in
its header. The model gets a held-out memo without that last line (and, for RAG, similar memos before it) and
picks the phrase it finds most likely to close it; exact match against the true closing line. Chance is 1/12.
"""

from __future__ import annotations

from collections.abc import Sequence

from ftrag.model import exact_match
from ftrag.world.dialect import CLOSING, split_closing


def split_memos(memos: Sequence[str]) -> tuple[list[str], list[str]]:
    """(each memo without its closing line, each closing line)."""
    if isinstance(memos, str) or not memos:
        raise ValueError("memos must be a non-empty list of memo texts")
    heads, closings = [], []
    for memo in memos:
        if "\n" not in memo.strip():
            raise ValueError(f"a memo has a header, lines and a closing line; got one line: {memo[:60]!r}")
        head, closing = split_closing(memo.strip())
        heads.append(head)
        closings.append(closing)
    return heads, closings


def closing_choices(model, tokenizer, heads: Sequence[str], contexts: Sequence[str] | None = None, *,
                    batch_size: int = 24) -> list[str]:
    """For each memo head, the closing phrase (of the dialect's twelve) the model finds most likely next.

    Each phrase is scored by the summed log-probability of its tokens and the end-of-text after it, given
    ``context + head`` (the oldest context tokens are dropped to fit the model's window). Greedy generation
    would not do: after a body line the model may as well write another one (a memo has 2-7), so "the next line"
    need not be the closing line even for a model that knows the rule.
    """
    import torch

    from ftrag.model import _rows_nll

    if contexts is not None and len(contexts) != len(heads):
        raise ValueError(f"got {len(heads)} memo heads but {len(contexts)} contexts; pass one context per head")
    phrases = sorted(set(CLOSING.values()))
    limit = getattr(model.config, "max_position_embeddings", None) or 512
    bos = tokenizer("")["input_ids"]
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    endings = [tokenizer(p, add_special_tokens=False)["input_ids"] + eos for p in phrases]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or [0])[0]
    rows, starts = [], []
    for i, head in enumerate(heads):
        body = tokenizer(head, add_special_tokens=False)["input_ids"]
        ctx = tokenizer(contexts[i], add_special_tokens=False)["input_ids"] if contexts and contexts[i] else []
        # The same context for every phrase: room for the longest one, the oldest context tokens dropped first.
        room = limit - len(bos) - len(body) - max(len(e) for e in endings)
        ctx = ctx[max(0, len(ctx) - room):] if room > 0 else []
        for ending in endings:
            rows.append(bos + ctx + body + ending)
            starts.append(len(rows[-1]) - len(ending))
    scores = _rows_nll(model, rows, starts, pad_id, batch_size)
    per_head = torch.tensor(scores).view(len(heads), len(phrases))
    return [phrases[j] for j in per_head.argmin(1).tolist()]


def closing_em(model, tokenizer, memos: Sequence[str], contexts: Sequence[str] | None = None,
               **kwargs) -> tuple[float, list[str]]:
    """Exact match of the closing phrase a model picks for each of ``memos`` (and the phrases it picked)."""
    heads, closings = split_memos(memos)
    chosen = closing_choices(model, tokenizer, heads, contexts, **kwargs)
    return exact_match(chosen, closings), chosen
