"""Lesson 03's completion task: does a model end a company memo with the closing line the dialect requires?

A memo (``data/dialect``) ends with one of twelve fixed phrases, chosen by the memo's type *and* priority, both in
its header. The model gets a held-out memo without that last line (and, for RAG, similar memos before it) and
picks the phrase it finds most likely to close it; exact match against the true closing line. Chance is 1/12.
"""


from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ftrag.files import read_examples
from ftrag.lm import continuation_nll, exact_match, pad_id_of, perplexity, world_a_scores
from ftrag.train import TrainConfig, lm_examples, lora_model, tokens_to_train, train
from ftrag.world.memos import CLOSING, split_closing


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


def closing_nll(model, tokenizer, heads: Sequence[str], contexts: Sequence[str] | None = None
                ) -> tuple[list[str], list[list[float]], list[int]]:
    """The dialect's twelve closing phrases, the NLL (nats) of each after each memo head, and each phrase's length.

    Each phrase is scored by the summed negative log-probability of its tokens and the end-of-text after it, given
    ``context + head`` (the oldest context tokens are dropped to fit the model's window). Greedy generation
    would not do: after a body line the model may as well write another one (a memo has 2-7), so "the next line"
    need not be the closing line even for a model that knows the rule.
    """
    if isinstance(heads, str) or not heads:
        raise ValueError("heads must be a non-empty list of memo heads (split_memos gives them)")
    if contexts is not None and len(contexts) != len(heads):
        raise ValueError(f"got {len(heads)} memo heads but {len(contexts)} contexts; pass one context per head")
    phrases = sorted(set(CLOSING.values()))
    limit = getattr(model.config, "max_position_embeddings", None) or 512
    bos = tokenizer("")["input_ids"]
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    endings = [tokenizer(p, add_special_tokens=False)["input_ids"] + eos for p in phrases]
    width = max(len(e) for e in endings)
    rows = []
    for i, head in enumerate(heads):
        body = tokenizer(head, add_special_tokens=False)["input_ids"]
        ctx = (tokenizer(contexts[i], add_special_tokens=False, verbose=False)["input_ids"]
               if contexts and contexts[i] else [])  # (verbose: a context may exceed the window; it is cut)
        # The same context for every phrase: room for the longest one, the oldest context tokens dropped first.
        room = limit - len(bos) - len(body) - width
        ctx = ctx[max(0, len(ctx) - room):] if room > 0 else []
        prefix = bos + ctx + body
        # The memo is read once; its key/value cache is then shared by the twelve candidate endings.
        rows.append(continuation_nll(model, [prefix + e for e in endings], [len(prefix)] * len(endings),
                                     pad_id_of(tokenizer), batch_size=len(endings), shared_prefix=True))
    return phrases, rows, [len(e) for e in endings]


def closing_choices(model, tokenizer, heads: Sequence[str], contexts: Sequence[str] | None = None, *,
                    per_token: bool = False) -> list[str]:
    """For each memo head, the closing phrase (of the dialect's twelve) the model finds most likely next: by summed
    log-probability (:func:`closing_nll`), or with ``per_token`` by its mean per token (a sum favours short phrases:
    each priority-3 phrase is two words)."""
    return closing_picks(model, tokenizer, heads, contexts)["per token" if per_token else "sum"]


def closing_picks(model, tokenizer, heads: Sequence[str], contexts: Sequence[str] | None = None
                  ) -> dict[str, list[str]]:
    """The phrases picked by both scoring rules from one pass: ``{"sum": [...], "per token": [...]}``."""
    phrases, rows, lengths = closing_nll(model, tokenizer, heads, contexts)
    best = {"sum": lambda nll: nll, "per token": lambda nll: [v / n for v, n in zip(nll, lengths, strict=True)]}
    return {name: [phrases[min(range(len(phrases)), key=score(nll).__getitem__)] for nll in rows]
            for name, score in best.items()}


def closing_em(model, tokenizer, memos: Sequence[str], contexts: Sequence[str] | None = None, *,
               per_token: bool = False) -> tuple[float, list[str]]:
    """Exact match of the closing phrase a model picks for each of ``memos`` (and the phrases it picked);
    ``per_token``: see :func:`closing_choices`."""
    heads, closings = split_memos(memos)
    chosen = closing_choices(model, tokenizer, heads, contexts, per_token=per_token)
    return exact_match(chosen, closings), chosen


# ----------------------------------------------------------------------------------------------------------
# Continued pretraining on the memos, and what it costs on World A (lesson 03's sweep and live runs share these)

BLOCK_SIZE = 512  # a memo is ~155 tokens: a block shorter than a memo never holds its header and its closing line


def training_examples(tokenizer, steps: int, batch_size: int, block_size: int = BLOCK_SIZE) -> list[dict]:
    """Packed blocks of the first training memos: enough for one pass of ``steps * batch_size`` blocks (2x margin).

    Every run with the same arguments sees the same memos in the same blocks, so a live run in a notebook can be
    compared with a recorded one.
    """

    for name, value in (("steps", steps), ("batch_size", batch_size), ("block_size", block_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    memos = read_examples("dialect", "train.txt.xz")
    need = min(len(memos), 2 * steps * batch_size * block_size // 150 + 1)  # ~150 tokens per memo
    return lm_examples(tokenizer, memos[:need], block_size=block_size)


def train_on_memos(model, tokenizer, *, method: str = "lora", rank: int = 4, lr: float = 1e-3, steps: int = 40,
                   batch_size: int = 4, block_size: int = BLOCK_SIZE, warmup_steps: int = 5, seed: int = 0,
                   progress: bool = True, eval_fn: Callable[[], float] | None = None, eval_every: int = 0,
                   gradient_checkpointing: bool = False):
    """Continued pretraining of ``model`` on the dialect's training memos; returns (trained model, TrainResult).

    ``method``: ``"lora"`` (rank ``rank`` on every linear layer, lesson 02's ``lora_model``) or ``"full"`` (every
    weight). The model is changed in place (LoRA wraps it): load a fresh copy for each run.
    ``gradient_checkpointing`` recomputes the activations in the backward pass: the same gradients, a fraction of
    the memory (a real model's activations for 2 blocks of 512 tokens take GBs), a second forward pass.
    """


    if method not in ("lora", "full"):
        raise ValueError(f"method must be 'lora' or 'full', got {method!r}")
    examples = training_examples(tokenizer, steps, batch_size, block_size)
    torch.manual_seed(seed)  # the LoRA matrices' initialisation
    if method == "lora":
        model = lora_model(model, rank, token_ids=tokens_to_train(model, tokenizer, examples), reinit_tokens=True,
                           seed=seed)
    else:
        model.requires_grad_(True)
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, warmup_steps=warmup_steps, seed=seed,
                         progress=progress, gradient_checkpointing=gradient_checkpointing)
    return model, train(model, examples, config, pad_id=pad_id_of(tokenizer), eval_fn=eval_fn,
                        eval_every=eval_every)


def forgetting_scores(model, tokenizer, *, n_test: int = 200, n_heldout: int = 100, n_rc: int = 100) -> dict:
    """What a model knows of the dialect and of World A: the numbers of lesson 03's learn-vs-forget plot.

    ``dialect_ppl`` on the first ``n_test`` test memos, ``world_a_ppl`` on the first ``n_heldout`` held-out World A
    texts, ``rc_em``: reading-comprehension exact match on the first ``n_rc`` rows of ``rc_test.jsonl`` (gold
    passage alone, greedy answer).
    """

    return {"dialect_ppl": perplexity(model, tokenizer, read_examples("dialect", "test.txt")[:n_test]),
            **world_a_scores(model, tokenizer, n_heldout=n_heldout, n_rc=n_rc)}
