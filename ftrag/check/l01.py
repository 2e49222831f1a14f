"""Checks for the lab of lesson 01 (autoregressive prediction)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ftrag.check import call_solution, expect, expect_close, expect_equal, fail, passed
from ftrag.lm import load_model, perplexity

_TOY = torch.tensor([3.0, 2.0, 1.0, 0.0, -1.0])


def check_sample_next_token(sample_next_token) -> None:
    """Exercise 1: temperature and top-p sampling from logits."""
    gen = torch.Generator().manual_seed(0)
    got = call_solution(sample_next_token, _TOY, 1.0, 1.0, gen, name="sample_next_token")
    expect(isinstance(got, int), f"sample_next_token should return a Python int (int(...)), got {type(got).__name__}")
    cold = {call_solution(sample_next_token, _TOY, 1e-3, 1.0, torch.Generator().manual_seed(s)) for s in range(20)}
    expect_equal(cold, {0}, "tokens drawn at temperature 0.001",
                 hint="divide the logits by the temperature before the softmax")
    nucleus = {call_solution(sample_next_token, _TOY, 1.0, 0.5, torch.Generator().manual_seed(s)) for s in range(50)}
    expect_equal(nucleus, {0}, f"tokens drawn with top_p=0.5 from logits {_TOY.tolist()} (token 0 alone has p=0.64)",
                 hint="keep the most likely tokens until their cumulative probability reaches top_p, no more")
    # softmax(_TOY) = 0.64, 0.23, 0.09, 0.03, 0.01: tokens 0-2 hold 0.96 of the mass, tokens 0-1 only 0.87
    wide = {call_solution(sample_next_token, _TOY, 1.0, 0.9, torch.Generator().manual_seed(s)) for s in range(200)}
    expect_equal(wide, {0, 1, 2}, "tokens drawn with top_p=0.9 (tokens 0-2 hold 0.96 of the probability, 0-1 hold "
                 "0.87)", hint="the nucleus is the smallest set of most likely tokens whose probabilities reach top_p; "
                 "sample from all of it, renormalised (not only its most likely token)")
    gen = torch.Generator().manual_seed(1)
    draws = [call_solution(sample_next_token, _TOY, 1.0, 1.0, gen) for _ in range(4000)]
    share = draws.count(0) / len(draws)
    want = torch.softmax(_TOY, -1)[0].item()
    expect(abs(share - want) < 0.03, f"at temperature 1 token 0 should come up about {want:.2f} of the time, came up "
           f"{share:.2f}: sample with torch.multinomial(probs, 1, generator=generator)")
    passed("temperature and top-p sampling behave as they should")


def check_perplexity_from_logits(perplexity_from_logits) -> None:
    """Exercise 2: perplexity from logits and token ids."""
    gen = torch.Generator().manual_seed(0)
    logits, ids = torch.randn(12, 7, generator=gen), torch.randint(0, 7, (12,), generator=gen)
    want = math.exp(F.cross_entropy(logits[:-1], ids[1:]).item())
    got = call_solution(perplexity_from_logits, logits, ids, name="perplexity_from_logits")
    expect_close(got, want, "perplexity_from_logits on random logits", tol=1e-4,
                 hint="position t predicts token t+1: compare logits[:-1] with ids[1:], then exp of the mean loss")
    passed("perplexity from logits is right")


def check_most_surprising(most_surprising) -> None:
    """Exercise 3: which text does the course model find most surprising?"""

    model, tok = load_model("course-lm", device="cpu")
    texts = ["Anna Berg was born in Lindholm and works as a baker.",
             "MV-1023-WT :: QRV :: prq1 :: wk34 :: faxil",
             "Tom Reed lives in Eastmere. He likes to read."]
    want = max(range(3), key=lambda i: perplexity(model, tok, [texts[i]]))
    got = call_solution(most_surprising, model, tok, texts, name="most_surprising")
    expect_equal(got, want, "index of the most surprising text", hint="the highest perplexity is the most surprising")
    passed(f"the most surprising text is #{want}: {texts[want]!r}")


def check_generate_until_stop(generate_until_stop) -> None:
    """Exercise 4: a greedy generation loop that stops at a stop token."""

    model, tok = load_model("course-lm", device="cpu")
    prompt = "Passage: Tom Reed was born in Eastmere.\nQuestion: Where was Tom Reed born?\nAnswer:"
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    newline = tok("\n", add_special_tokens=False)["input_ids"][0]
    got = call_solution(generate_until_stop, model, ids, newline, 20, name="generate_until_stop")
    expect(isinstance(got, list) and all(isinstance(i, int) for i in got),
           f"generate_until_stop should return a list of ints (the new token ids), got {type(got).__name__}")
    ref = model.generate(ids, max_new_tokens=20, do_sample=False, eos_token_id=newline,
                         pad_token_id=tok.pad_token_id)[0, ids.shape[1]:].tolist()
    expect_equal(got, ref, "new token ids", hint="take the argmax at the last position, append it, and stop right "
                 "after appending the stop id (include it)")
    passed(f"your loop answers {tok.decode(got).strip()!r} and stops at the newline, like model.generate")


def check_draw_counts(draw_counts, sample_next_token) -> None:
    """Exercise 5: counts of many draws from one seeded generator, with the temperature and top-p passed through."""
    got = call_solution(draw_counts, _TOY, 1.0, 1.0, 300, 0, name="draw_counts")
    expect(isinstance(got, list) and len(got) == len(_TOY) and all(isinstance(c, int) for c in got),
           f"draw_counts should return a list of {len(_TOY)} ints (one count per token id), got {_short_type(got)}")
    expect_equal(sum(got), 300, "the sum of the counts of 300 draws", hint="draw n tokens, count each one once")
    gen = torch.Generator().manual_seed(0)
    own = [call_solution(sample_next_token, _TOY, 1.0, 1.0, gen, name="sample_next_token") for _ in range(300)]
    expect_equal(got, [own.count(i) for i in range(len(_TOY))], "counts of 300 draws with seed 0",
                 hint="seed ONE generator with torch.Generator().manual_seed(seed) and pass it to every draw "
                      "(a new generator per draw repeats the same token)")
    expect(call_solution(draw_counts, _TOY, 1.0, 1.0, 300, 1, name="draw_counts") != got,
           "seed 1 gave the same counts as seed 0: seed the generator with `seed`")
    for temperature in (0.5, 3.0):
        counts = call_solution(draw_counts, _TOY, temperature, 1.0, 2000, 2, name="draw_counts")
        want = torch.softmax(_TOY / temperature, -1).tolist()
        off = max(abs(c / 2000 - w) for c, w in zip(counts, want, strict=True))
        expect(off < 0.04, f"at temperature {temperature} the shares of 2000 draws should be near "
               f"{[round(w, 2) for w in want]}, got {[round(c / 2000, 2) for c in counts]}: pass the temperature on")
    nucleus = call_solution(draw_counts, _TOY, 1.0, 0.5, 100, 3, name="draw_counts")
    expect_equal(nucleus, [100, 0, 0, 0, 0], "counts with top_p=0.5 (token 0 alone holds 0.64)",
                 hint="pass top_p on to sample_next_token")
    passed("draw_counts counts n draws from one seeded generator, with temperature and top-p passed on")


def _short_type(value) -> str:
    return f"{type(value).__name__} of length {len(value)}" if hasattr(value, "__len__") else type(value).__name__


def check_token_losses(token_losses) -> None:
    """Exercise 6: the loss of every token given the ones before it, recomputed here."""

    model, tok = load_model("course-lm", device="cpu")
    text = "Dario Molina has a pet duck. Dario Molina was born in 1987 in Velmora."
    ids = tok(text, return_tensors="pt")["input_ids"]
    got = call_solution(token_losses, model, ids, name="token_losses")
    n = ids.shape[1] - 1
    expect(isinstance(got, torch.Tensor) and tuple(got.shape) == (n,),
           f"token_losses should return a tensor of shape (T - 1,) = ({n},), one loss per predicted token, got "
           f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}")
    with torch.no_grad():
        logits = model(ids).logits[0]
    want = F.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")
    unshifted = F.cross_entropy(logits[1:], ids[0, 1:], reduction="none")
    got = got.detach().float()
    if torch.allclose(got, unshifted, atol=1e-3):
        fail("each loss compares a token with the logits at its own position: position t predicts token t + 1, "
             "so use logits[:-1] against ids[0, 1:]")
    if torch.allclose(got, -want, atol=1e-3):
        fail("the losses are negative: the loss is MINUS the log-probability of the token")
    expect(torch.allclose(got, want, atol=1e-3),
           "token_losses differs from the cross-entropy of logits[:-1] against ids[0, 1:] (reduction='none'); "
           f"first values: expected {[round(x, 3) for x in want[:3].tolist()]}, got "
           f"{[round(x, 3) for x in got[:3].tolist()]}")
    passed(f"{n} per-token losses, each token scored from the tokens before it")
