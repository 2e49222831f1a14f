"""Lesson 03's completion task: does a model end a company memo with the closing line the dialect requires?

A memo (``data/dialect``) ends with one of twelve fixed phrases, chosen by the memo's type *and* priority, both in
its header. The model gets a held-out memo without that last line (and, for RAG, similar memos before it), writes
on greedily until it ends the memo, and the last line it wrote is compared with the true closing line. A model that
adds another shorthand line first is not penalised for that; one that never ends the memo is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from ftrag.model import exact_match, generate
from ftrag.world.dialect import split_closing


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


def written_closings(model, tokenizer, heads: Sequence[str], contexts: Sequence[str] | None = None, *,
                     max_new_tokens: int = 48, batch_size: int = 16) -> list[str]:
    """The last line each model writes after ``context + head`` (greedy, until end-of-text or the token limit).

    A memo's own lines are under 20 tokens, so 48 new tokens leave room for two more lines and the closing one.
    """
    if contexts is not None and len(contexts) != len(heads):
        raise ValueError(f"got {len(heads)} memo heads but {len(contexts)} contexts; pass one context per head")
    prompts = [(c if contexts is not None else "") + h for c, h in zip(contexts or [""] * len(heads), heads,
                                                                     strict=True)]
    outputs = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, stop_at_newline=False,
                       batch_size=batch_size)
    return [(out.strip().split("\n") or [""])[-1].strip() for out in outputs]


def closing_em(model, tokenizer, memos: Sequence[str], contexts: Sequence[str] | None = None,
               **kwargs) -> tuple[float, list[str]]:
    """Exact match of the closing lines a model writes for ``memos`` (and those lines)."""
    heads, closings = split_memos(memos)
    written = written_closings(model, tokenizer, heads, contexts, **kwargs)
    return exact_match(written, closings), written
