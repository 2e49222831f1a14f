"""Checks for the lab of lesson 03 (a company dialect: continued pretraining vs context)."""

from __future__ import annotations

import random

from ftrag.check import call_solution, expect, expect_close, expect_equal, passed
from ftrag.files import read_examples
from ftrag.lm import context_perplexity, load_model
from ftrag.retrieval import BM25Retriever, Chunk
from ftrag.train import lm_examples


def _course():

    return load_model("course-lm", device="cpu")


def check_span_perplexity(span_perplexity) -> None:
    """Exercise 1: perplexity of a text's own tokens with a context before it."""

    model, tok = _course()
    memos = read_examples("dialect", "valid.txt")[:3]
    for context, text in (("", memos[0]), (memos[1] + "\n\n", memos[0]), ("Mira Holt lives in Ulvard.", memos[2])):
        got = call_solution(span_perplexity, model, tok, context, text, name="span_perplexity")
        expect(isinstance(got, float), f"span_perplexity should return a float, got {type(got).__name__}")
        want = context_perplexity(model, tok, [text], [context])
        expect_close(got, want, f"span perplexity of a memo with {len(context)} characters of context", tol=1e-3 * want,
                     hint="score only the text's tokens and the EOS: the last len(text tokens) + 1 positions; "
                          "logits[i] predicts token i + 1, so drop the last logit and the first id")
    with_context = call_solution(span_perplexity, model, tok, memos[1] + "\n\n", memos[0], name="span_perplexity")
    alone = call_solution(span_perplexity, model, tok, "", memos[0], name="span_perplexity")
    passed(f"span perplexity matches the course's context_perplexity (a memo alone {alone:,.0f}, with another memo "
           f"before it {with_context:,.0f})")


def check_packing(pack, share_whole) -> None:
    """Exercise 2: packing texts into blocks, and the share of texts a block holds whole."""

    _, tok = _course()
    memos = read_examples("dialect", "valid.txt")[:40]
    for block in (64, 128, 512):
        got = call_solution(pack, tok, memos, block, name="pack")
        expect(isinstance(got, list) and all(isinstance(b, list) for b in got),
               f"pack should return a list of blocks (lists of ids), got {type(got).__name__}")
        want = [e["input_ids"] for e in lm_examples(tok, memos, block_size=block)]
        expect_equal(len(got), len(want), f"the number of blocks of {block} tokens for 40 memos",
                     hint="EOS before every text, one EOS at the end, then cut every block_size tokens")
        expect_equal(got, want, f"the blocks of {block} tokens")
    rng = random.Random(0)
    for block in (128, 256, 512):
        got = call_solution(share_whole, tok, memos, block, name="share_whole")
        position, whole = 0, 0
        for memo in memos:
            n = len(tok(memo, add_special_tokens=False)["input_ids"])
            whole += (position + 1) // block == (position + n) // block
            position += n + 1
        expect_close(got, whole / len(memos), f"share of memos whole in blocks of {block}",
                     hint="the stream is EOS, text, EOS, text, ...: text i's tokens run from the position after its "
                          "EOS to that plus its length minus one; whole if both ends fall in the same block")
    short = ["a b"] * 5
    expect_close(call_solution(share_whole, tok, short, 512, name="share_whole"), 1.0,
                 "five tiny texts in one block of 512")
    rng.shuffle(memos)
    passed(f"packing matches lm_examples; blocks of 128 keep {call_solution(share_whole, tok, memos, 128):.0%} of "
           f"the memos whole, blocks of 512 {call_solution(share_whole, tok, memos, 512):.0%}")


def check_memo_context(memo_context, retriever) -> None:
    """Exercise 3: the RAG-style context of a memo (k most similar memos, most similar last)."""

    memos = read_examples("dialect", "test.txt")[:5]
    for memo in memos:
        for k in (1, 3):
            got = call_solution(memo_context, retriever, memo, k, name="memo_context")
            expect(isinstance(got, str), f"memo_context should return a str, got {type(got).__name__}")
            ids, _ = retriever.search(["\n".join(memo.split("\n")[:2])], k)
            texts = [retriever.chunks[int(i)].text for i in ids[0]]
            want = "\n\n".join(texts[::-1]) + "\n\n"
            if k > 1 and got == "\n\n".join(texts) + "\n\n":
                expect(False, "the memos are in retrieval order: put the most similar one last, nearest the memo")
            expect_equal(got, want, f"the context of a test memo with k={k}",
                         hint="query with the memo's first two lines, join the k texts with a blank line, most "
                              "similar last, and end with a blank line")
    passed("the context holds the k most similar memos, most similar nearest the memo")


def check_choose_run(choose_run) -> None:
    """Exercise 4: the best dialect perplexity within a World A budget."""
    rows = [{"method": "base", "rank": 0, "lr": 0.0, "dialect_ppl": 9000.0, "world_a_ppl": 2.0},
            {"method": "lora", "rank": 4, "lr": 1e-3, "dialect_ppl": 500.0, "world_a_ppl": 2.02},
            {"method": "lora", "rank": 16, "lr": 1e-3, "dialect_ppl": 300.0, "world_a_ppl": 2.08},
            {"method": "full", "rank": 0, "lr": 1e-3, "dialect_ppl": 3.0, "world_a_ppl": 2.6}]
    for rise, want in ((0.02, rows[1]), (0.05, rows[2]), (0.5, rows[3]), (0.001, None)):
        got = call_solution(choose_run, [dict(r) for r in rows], rise, name="choose_run")
        expect_equal(got, want, f"choose_run(rows, max_rise={rise})",
                     hint="allowed: world_a_ppl <= base world_a_ppl * (1 + max_rise), base row excluded; "
                          "then the lowest dialect_ppl; None when nothing is allowed")
    passed("choose_run picks the most dialect for the World A perplexity you allow")


def _fields(memo: str) -> dict[str, str]:
    parts = [p.strip() for p in memo.split("\n", 1)[0].split("::")]
    return {"type": parts[1], "priority": parts[2]}


def _filtered_context(pool: list[str], memo: str, keep: tuple[str, ...], k: int) -> str:
    want = _fields(memo)
    kept = [m for m in pool if all(_fields(m)[f] == want[f] for f in keep)]
    retriever = BM25Retriever([Chunk(f"m{i}", f"m{i}", "", "memo", m, 0, 1) for i, m in enumerate(kept)])
    ids, _ = retriever.search(["\n".join(memo.split("\n")[:2])], k)
    return "\n\n".join(kept[int(i)] for i in ids[0][::-1]) + "\n\n"


def check_header_fields(header_fields) -> None:
    """Exercise 5: the type and priority of a memo, read from its header."""
    for memo in read_examples("dialect", "test.txt")[:6]:
        got = call_solution(header_fields, memo, name="header_fields")
        expect_equal(got, _fields(memo), f"header_fields of the memo starting {memo.split(chr(10))[0]!r}",
                     hint="split the first line on '::' and strip the spaces; the type is the 2nd field, the "
                          "priority the 3rd")
    passed("header_fields reads the type and the priority")


def check_filtered_context(filtered_context, pool: list[str]) -> None:
    """Exercise 5: a retrieved context restricted to pool memos that share the chosen header fields."""
    for memo in read_examples("dialect", "test.txt")[:3]:
        for keep in ((), ("type",), ("priority",), ("type", "priority")):
            got = call_solution(filtered_context, pool, memo, keep, 2, name="filtered_context")
            expect_equal(got, _filtered_context(pool, memo, keep, 2), f"the context of a test memo, keep={keep}",
                         hint="keep the pool memos whose header_fields agree with the memo's on every field in "
                              "keep, then build lesson 03's context from them (BM25 on the first two lines, k "
                              "best, most similar last, each followed by a blank line)")
    passed("the filtered context keeps only memos that share the chosen header fields")


def check_field_choice(field: str, measured: dict) -> None:
    """Exercise 5, the decision: the header field whose filter alone helps more, from the learner's numbers."""
    expect(bool(measured), "`measured` is empty: run the experiment cell above first")
    expect(field in ("type", "priority"), f"field should be 'type' or 'priority', got {field!r}")
    other = "priority" if field == "type" else "type"
    expect(measured[(field,)] >= measured[(other,)], f"filtering on {field} alone measured "
           f"{measured[(field,)]:.2f}, on {other} alone {measured[(other,)]:.2f}: let the numbers decide")
    passed(f"the {field} filter alone helps more here")
