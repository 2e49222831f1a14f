"""Scoring text with a model: the summed NLL of a continuation given its prefix (``continuation_nll``, the one
primitive every scorer of the course calls), perplexity built on it, and the padding both use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ftrag.env import release_memory
from ftrag.lm.load import device_of

# ----------------------------------------------------------------------------------------------------------
# Padding: one rule for the pad id, one way to right-pad a batch


def pad_id_of(tokenizer) -> int:
    """The id to pad with: the tokenizer's pad token, else its EOS, else 0.

    Right padding sits after every real token and is masked out, so a causal model's scores of the real tokens
    do not depend on which id it is; it only has to be a valid token id.
    """
    for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return token_id
    return 0


def pad_right(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both (B, T): the rows right-padded with ``pad_id`` to the longest; 1 = real token.

    Right padding: a causal model never looks right, so the real tokens keep their positions and their logits.
    """
    width = max((len(r) for r in rows), default=0)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, :len(r)] = 1
    return ids, mask


# ----------------------------------------------------------------------------------------------------------
# The scoring primitive: how unlikely a continuation is after its prefix


def continuation_nll(model, rows: Sequence[Sequence[int]], starts: Sequence[int], pad_id: int, batch_size: int = 8,
                     *, shared_prefix: bool = False) -> list[float]:
    """Summed NLL (nats) of the tokens ``rows[i][starts[i]:]``, each predicted from everything before it.

    Perplexity, multiple-choice options, closing lines, reranking and value preference are all this sum.
    Rows are batched by length (similar lengths share a batch: less padding) and right-padded with ``pad_id``.
    ``shared_prefix``: every row starts with the same prefix (one prompt, several candidate endings); it is read
    once per batch and its key/value cache shared by the batch's endings, instead of once per row.
    """
    if len(rows) != len(starts):
        raise ValueError(f"got {len(rows)} rows but {len(starts)} starts; give one start per row")
    for row, start in zip(rows, starts, strict=True):
        if not 1 <= start <= len(row):
            raise ValueError(f"a start must be from 1 (the first token has nothing before it) to the row's length "
                             f"{len(row)}, got {start}")
    if shared_prefix and any(list(r[:s]) != list(rows[0][:starts[0]]) for r, s in zip(rows, starts, strict=True)):
        raise ValueError("shared_prefix=True needs every row to start with the same prefix rows[i][:starts[i]]")
    sums = [0.0] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    batches = [order[f:f + batch_size] for f in range(0, len(order), batch_size)] if shared_prefix else \
        _nll_batches(order, rows, batch_size, model.get_output_embeddings().weight.shape[0])
    for batch in batches:
        if shared_prefix:
            nlls = _shared_prefix_nll(model, rows[0][:starts[0]], [rows[i][starts[i]:] for i in batch], pad_id)
        else:
            nlls = token_nll(model, [rows[i] for i in batch], pad_id)
            nlls = [nll[starts[i] - 1:] for i, nll in zip(batch, nlls, strict=True)]  # nll[j]: token j + 1's loss
        for i, nll in zip(batch, nlls, strict=True):
            sums[i] = nll.double().sum().item()
    return sums




# Logits one batch holds at once (rows x the longest row x the vocabulary). 32 rows of the course model's 512-token
# context and 4,096-token vocabulary fit exactly, so its batches are exactly ``batch_size`` rows as before; a real
# model's 49,152-token vocabulary gets fewer rows per batch (lesson 04's reranker on SmolLM2: 32 rows of a few hundred
# tokens took 2 GB above the kernel's resting size, most of the lesson's peak memory on that model).
LOGITS_PER_BATCH = 32 * 512 * 4096


def _nll_batches(order: Sequence[int], rows: Sequence[Sequence[int]], batch_size: int, vocab: int) -> list[list[int]]:
    """``order`` (rows by ascending length) cut into batches of at most ``batch_size`` rows whose logits stay within
    ``LOGITS_PER_BATCH``; a row longer than that goes alone."""
    batches: list[list[int]] = []
    for i in order:  # ascending: the row added is its batch's longest
        if batches and len(batches[-1]) < batch_size and \
                (len(batches[-1]) + 1) * len(rows[i]) * vocab <= LOGITS_PER_BATCH:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


@torch.no_grad()
def token_nll(model, rows: Sequence[Sequence[int]], pad_id: int) -> list[torch.Tensor]:
    """Per-token negative log-likelihood (nats) of each row, token 1.. predicted from its prefix."""
    device = device_of(model)
    ids, mask = pad_right(rows, pad_id)
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()  # (B, T, V)
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:].to(device), reduction="none")  # (B, T-1)
    return [nll[i, :len(r) - 1].cpu() for i, r in enumerate(rows)]


@torch.no_grad()
def _shared_prefix_nll(model, prefix: Sequence[int], endings: Sequence[Sequence[int]],
                       pad_id: int) -> list[torch.Tensor]:
    """Per-token NLL (nats) of each ending after ``prefix``; the prefix is read once and its cache shared."""
    device = device_of(model)
    ids, mask = pad_right(endings, pad_id)
    if ids.shape[1] == 0:  # only empty endings: nothing to score
        return [torch.zeros(0) for _ in endings]
    ids, mask = ids.to(device), mask.to(device)
    head = model(input_ids=torch.tensor([list(prefix)], device=device), use_cache=True)
    cache = head.cache
    cache.batch_repeat_interleave(len(endings))
    mask = torch.cat([torch.ones((len(endings), len(prefix)), dtype=torch.long, device=device), mask], dim=1)
    logits = model(input_ids=ids, cache=cache, attention_mask=mask).logits.float()  # (B, T, V)
    # Token 0 of an ending is predicted by the prefix's last position, token t by the ending's position t-1.
    logits = torch.cat([head.logits[:, -1:].float().expand(len(endings), 1, -1), logits[:, :-1]], dim=1)
    nll = F.cross_entropy(logits.transpose(1, 2), ids, reduction="none")  # (B, T)
    return [nll[i, :len(e)].cpu() for i, e in enumerate(endings)]


# ----------------------------------------------------------------------------------------------------------
# Perplexity


def encode_for_lm(tokenizer, text: str, *, add_eos: bool = True, max_length: int | None = None) -> list[int]:
    """Token ids of one text as the model was trained on it: the tokenizer's BOS (if any), the text, then EOS."""
    ids = tokenizer(text)["input_ids"]
    if add_eos and tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids = ids + [tokenizer.eos_token_id]
    return ids[:max_length] if max_length else ids


def perplexity(model, tokenizer, texts: Sequence[str], *, batch_size: int = 8, max_length: int = 512) -> float:
    """Token-weighted perplexity exp(mean NLL) over all texts, each text on its own row (BOS + text + EOS)."""
    if isinstance(texts, str):
        texts = [texts]
    rows = [encode_for_lm(tokenizer, t, max_length=max_length) for t in texts]
    rows = [r for r in rows if len(r) >= 2]  # a row of one token predicts nothing
    if not rows:
        raise ValueError("perplexity needs at least one non-empty text")
    return _rows_perplexity(model, rows, [1] * len(rows), pad_id_of(tokenizer), batch_size)


def _rows_perplexity(model, rows: list[list[int]], starts: list[int], pad_id: int, batch_size: int) -> float:
    """exp(mean NLL) of the tokens ``rows[i][starts[i]:]``, each predicted from everything before it."""
    total = sum(continuation_nll(model, rows, starts, pad_id, batch_size))
    release_memory(collect=False)  # the batches' logits are freed: give their pages back (100s of MB on SmolLM2)
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
    # The BOS the tokenizer adds (the course model's <|endoftext|>); a tokenizer that adds none but has a BOS token
    # (SmolLM2's <|im_start|>) gets that one, so that a text without context is predicted from its first token on.
    bos = tokenizer("")["input_ids"] or ([tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else [])
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
    return _rows_perplexity(model, rows, starts, pad_id_of(tokenizer), batch_size)


def token_losses(model, tokenizer, text: str) -> tuple[list[str], list[float]]:
    """Each token of ``text`` (as a string) and its loss in nats given everything before it (for loss plots)."""
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty string")
    ids = encode_for_lm(tokenizer, text, add_eos=False)
    if len(ids) < 2:  # no BOS in this tokenizer and a one-token text: nothing to predict from
        raise ValueError(f"{text!r} is a single token and this tokenizer adds no BOS; give a longer text")
    nll = token_nll(model, [ids], pad_id_of(tokenizer))[0]
    tokens = [tokenizer.decode([i]) for i in ids[1:]]
    return tokens, nll.tolist()
