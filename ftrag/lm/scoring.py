"""Scoring text with a model: the summed log-likelihood of a continuation, and perplexity built on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ftrag.lm.load import device_of

# ----------------------------------------------------------------------------------------------------------
# Perplexity


def encode_for_lm(tokenizer, text: str, *, add_eos: bool = True, max_length: int | None = None) -> list[int]:
    """Token ids of one text as the model was trained on it: the tokenizer's BOS (if any), the text, then EOS."""
    ids = tokenizer(text)["input_ids"]
    if add_eos and tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids = ids + [tokenizer.eos_token_id]
    return ids[:max_length] if max_length else ids


@torch.no_grad()
def _nll_rows(model, rows: list[list[int]], pad_id: int) -> list[torch.Tensor]:
    """Per-token negative log-likelihood (nats) of each row, token 1.. predicted from its prefix."""
    device = device_of(model)
    width = max(len(r) for r in rows)
    # Right padding: a causal model never looks right, so the real tokens' positions and losses are unchanged.
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()  # (B, T, V)
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:].to(device), reduction="none")  # (B, T-1)
    return [nll[i, :len(r) - 1].cpu() for i, r in enumerate(rows)]


def perplexity(model, tokenizer, texts: Sequence[str], *, batch_size: int = 8, max_length: int = 512) -> float:
    """Token-weighted perplexity exp(mean NLL) over all texts, each text on its own row (BOS + text + EOS)."""
    if isinstance(texts, str):
        texts = [texts]
    rows = [encode_for_lm(tokenizer, t, max_length=max_length) for t in texts]
    rows = [r for r in rows if len(r) >= 2]  # a row of one token predicts nothing
    if not rows:
        raise ValueError("perplexity needs at least one non-empty text")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return _rows_perplexity(model, rows, [1] * len(rows), pad_id, batch_size)


def rows_nll(model, rows: list[list[int]], starts: list[int], pad_id: int, batch_size: int) -> list[float]:
    """Summed NLL (nats) of the tokens ``rows[i][starts[i]:]``, each predicted from everything before it."""
    sums = [0.0] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # similar lengths share a batch: less padding
    for first in range(0, len(order), batch_size):
        batch = order[first:first + batch_size]
        for i, nll in zip(batch, _nll_rows(model, [rows[i] for i in batch], pad_id), strict=True):
            sums[i] = nll[starts[i] - 1:].double().sum().item()  # nll[j] is the loss of token j + 1
    return sums


def _rows_perplexity(model, rows: list[list[int]], starts: list[int], pad_id: int, batch_size: int) -> float:
    """exp(mean NLL) of the tokens ``rows[i][starts[i]:]``, each predicted from everything before it."""
    total = sum(rows_nll(model, rows, starts, pad_id, batch_size))
    return math.exp(total / sum(len(r) - s for r, s in zip(rows, starts, strict=True)))


def context_perplexity(model, tokenizer, texts: Sequence[str], contexts: Sequence[str] | None = None, *,
                       batch_size: int = 8, max_length: int | None = None) -> float:
    """Perplexity of each text's own tokens (and its EOS) with ``contexts[i]`` before it; context is not scored.

    A row is BOS, the context's tokens, then the text's tokens (encoded on their own, exactly as when the text
    stands alone, so the same tokens are scored with and without context). A context that would not leave the
    text room within ``max_length`` (default: the model's context length) loses its oldest tokens first.
    """
    if isinstance(texts, str) or isinstance(contexts, str):
        raise ValueError("texts and contexts must be lists of strings, one context per text")
    texts = list(texts)
    contexts = [""] * len(texts) if contexts is None else list(contexts)
    if len(contexts) != len(texts):
        raise ValueError(f"got {len(contexts)} contexts for {len(texts)} texts; give one context per text "
                         "('' for none)")
    if not texts:
        raise ValueError("context_perplexity needs at least one text")
    limit = max_length or getattr(model.config, "max_position_embeddings", None) or 512
    bos = tokenizer("")["input_ids"]  # the BOS the tokenizer adds (the course model's <|endoftext|>), or nothing
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    rows, starts = [], []
    for text, context in zip(texts, contexts, strict=True):
        body = tokenizer(text, add_special_tokens=False)["input_ids"] + eos
        if len(bos) + len(body) > limit:
            raise ValueError(f"a text of {len(body)} tokens does not fit the context of {limit} tokens")
        # verbose=False: a long context is expected here (it is cut below), so no "longer than 512" warning
        ctx = tokenizer(context, add_special_tokens=False, verbose=False)["input_ids"] if context else []
        ctx = ctx[max(0, len(bos) + len(ctx) + len(body) - limit):]  # drop the oldest context tokens
        rows.append(bos + ctx + body)
        starts.append(len(bos) + len(ctx))  # index of the text's first token
    if min(starts) < 1:
        raise ValueError("this tokenizer adds no BOS: give every text a non-empty context to predict it from")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or [0])[0]
    return _rows_perplexity(model, rows, starts, pad_id, batch_size)


def token_losses(model, tokenizer, text: str) -> tuple[list[str], list[float]]:
    """Each token of ``text`` (as a string) and its loss in nats given everything before it (for loss plots)."""
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty string")
    ids = encode_for_lm(tokenizer, text, add_eos=False)
    if len(ids) < 2:  # no BOS in this tokenizer and a one-token text: nothing to predict from
        raise ValueError(f"{text!r} is a single token and this tokenizer adds no BOS; give a longer text")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    nll = _nll_rows(model, [ids], pad_id)[0]
    tokens = [tokenizer.decode([i]) for i in ids[1:]]
    return tokens, nll.tolist()
