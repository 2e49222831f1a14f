"""Checks for the lab of lesson 03 (a dialect: fine-tune or put the documents in the context)."""

from __future__ import annotations

import copy

import torch

from ftrag.check import call_solution, expect, expect_close, expect_equal, passed


def check_span_perplexity(span_perplexity) -> None:
    """Exercise 1: perplexity of a text's tokens given a context, context not scored."""
    from ftrag.model import context_perplexity, load_model

    model, tokenizer = load_model("course-lm", device="cpu")
    context, text = "STAT: wipz / OWN: Lulzael Naelzael", "fwd-zq @RX + bzl BZ-RX-277"
    context_ids = tokenizer(context)["input_ids"]  # BOS + context
    text_ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    want = context_perplexity(model, tokenizer, [text], [context])
    got = call_solution(span_perplexity, model, context_ids, text_ids, name="span_perplexity")
    expect(isinstance(got, float | int), f"span_perplexity should return a number, got {type(got).__name__}")
    whole = context_perplexity(model, tokenizer, [context + text])
    expect(abs(got - whole) > 1e-3 * whole, "that is the perplexity of context and text together: score only the "
           "text's tokens (the logits from position len(context_ids) - 1 on)")
    expect_close(got, want, "span perplexity of a dialect line after a status line", tol=1e-3 * want,
                 hint="logits[len(context_ids) - 1 : -1] predict the text tokens ids[len(context_ids):]")
    passed("span_perplexity scores the text and only the text")


def check_pack(pack) -> None:
    """Exercise 2: eos-separated stream cut into blocks."""
    cases = [
        (([[1, 2, 3], [4, 5]], 4, 0), [[0, 1, 2, 3], [0, 4, 5, 0]], "two texts filling two blocks exactly"),
        (([[1, 2, 3], [4, 5, 6]], 3, 9), [[9, 1, 2], [3, 9, 4], [5, 6, 9]], "blocks that cut through a text"),
        (([[7, 8]], 10, 0), [[0, 7, 8, 0]], "one short text (a single, shorter block)"),
        (([[1, 2], [3]], 3, 0), [[0, 1, 2], [0, 3, 0]], "texts of different lengths"),
        (([[1, 2, 3]], 4, 0), [[0, 1, 2, 3]], "a last block of a single token is dropped"),
    ]
    for args, want, what in cases:
        got = call_solution(pack, *args, name="pack")
        expect(isinstance(got, list), f"pack should return a list of blocks, got {type(got).__name__}")
        expect_equal([list(b) for b in got], want, f"pack{args} ({what})",
                     hint="stream = eos, text 1, eos, text 2, ..., eos; then consecutive slices of block_size")
    passed("pack builds the packed continued-pretraining blocks")


def check_forgetting(forgetting, model, tokenizer) -> None:
    """Exercise 3: perplexity ratio after / before on the old domain."""
    from ftrag.files import read_examples
    from ftrag.model import perplexity

    texts = read_examples("world_a", "heldout.txt")[:8]
    same = call_solution(forgetting, model, model, texts, name="forgetting")
    expect(isinstance(same, float | int), f"forgetting should return a number, got {type(same).__name__}")
    expect_close(same, 1.0, "forgetting of a model compared with itself", tol=1e-6)
    disturbed = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in disturbed.model.layers[0].parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    want = perplexity(disturbed, tokenizer, texts) / perplexity(model, tokenizer, texts)
    got = call_solution(forgetting, model, disturbed, texts, name="forgetting")
    expect(got > 1, f"a disturbed model should be more perplexed by World A (ratio > 1), got {got:.3f}: "
           "divide the perplexity AFTER by the perplexity BEFORE")
    expect_close(got, want, "forgetting of a disturbed copy", tol=1e-3 * want)
    passed("forgetting measures how much more the old domain surprises the trained model")


def check_choose_rank(choose_rank) -> None:
    """Exercise 4: best dialect perplexity within a forgetting limit."""
    sweep = {1: (40.0, 1.01), 4: (25.0, 1.03), 16: (18.0, 1.09), 64: (18.0, 1.08)}
    cases = [
        ((sweep, 1.05), 4, "limit 1.05: ranks 1 and 4 qualify, 4 learns more"),
        ((sweep, 1.2), 16, "limit 1.2: all qualify; 16 and 64 tie on perplexity, take the smaller"),
        ((sweep, 1.02), 1, "limit 1.02: only rank 1 qualifies"),
        ((sweep, 1.0), None, "limit 1.0: nothing qualifies"),
    ]
    for args, want, what in cases:
        got = call_solution(choose_rank, *args, name="choose_rank")
        expect_equal(got, want, f"choose_rank ({what})",
                     hint="filter by forgetting <= max_forgetting, then the lowest perplexity, then the smaller rank")
    passed("choose_rank picks the rank that learns most within the forgetting you allow")
