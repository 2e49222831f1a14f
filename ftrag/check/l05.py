"""Checks for the lab of lesson 05 (fine-tune or RAG: the measurements behind the decision guide)."""

from __future__ import annotations

import random

from ftrag import stats
from ftrag.check import call_solution, expect, expect_close, expect_equal, passed
from ftrag.files import read_jsonl
from ftrag.lm import format_prompt, load_model
from ftrag.tasks import injection
from ftrag.tasks.facts import MAX_PROMPT, prompt_tokens
from ftrag.tasks.multiple_choice import option_log_likelihoods, options_for


def _course():

    return load_model("course-lm", device="cpu")


def check_option_score(option_score, pick) -> None:
    """Exercise 1: log p(option + EOS | prompt), and the option with the highest score."""

    model, tok = _course()
    qa = read_jsonl("knowledge", "qa.jsonl")[:6]
    docs = {d["doc_id"]: d["text"] for d in read_jsonl("knowledge", "docs.jsonl")}
    options = options_for(qa, read_jsonl("knowledge", "facts.jsonl"))
    prompts = [format_prompt(r["question"], [docs[r["doc_id"]]] if i % 2 else []) for i, r in enumerate(qa)]
    want = option_log_likelihoods(model, tok, prompts, options)
    for prompt, opts, scores in zip(prompts, options, want, strict=True):
        for option, score in zip(opts, scores, strict=True):
            got = call_solution(option_score, model, tok, prompt, option, name="option_score")
            expect(isinstance(got, float), f"option_score should return a float, got {type(got).__name__}")
            expect_close(got, score, f"log p({option!r} | {prompt[-40:]!r})", tol=1e-3,
                         hint="score the option's tokens AND the EOS after them: positions len(prompt ids) - 1 "
                              "to the end minus one; add up log_softmax values, do not average them")
        best = opts[max(range(len(opts)), key=scores.__getitem__)]
        got = call_solution(pick, model, tok, prompt, opts, name="pick")
        expect_equal(got, best, f"the option picked for {prompt[-50:]!r}", hint="return the option, not its score")
    passed("option_score matches ftrag.tasks.multiple_choice to 1e-3 on 24 options, and pick chooses the most "
           "likely one")


def _reference_raft(format_prompt, question, gold, distractors, n, position, include_gold):
    passages = list(distractors[:n])
    if include_gold:
        passages.insert(position, gold)
    return format_prompt(question, passages or [distractors[0]])


def check_raft_prompt(raft_prompt) -> None:
    """Exercise 2: RAFT-style prompts (gold among distractors, or distractors alone)."""

    question = "Who leads the Kolvena Ledger project?"
    gold = "The Kolvena Ledger project is led by Thaxara Zurvick."
    distractors = [f"The Project {c} is led by Person {c}." for c in "ABCD"]
    rng = random.Random(0)
    cases = [(0, 0, True), (2, 0, True), (2, 2, True), (4, 1, True), (3, 0, False), (0, 0, False)]
    cases += [(n, rng.randint(0, n), rng.random() < 0.8) for n in (rng.randint(0, 4) for _ in range(10))]
    for n, position, include in cases:
        got = call_solution(raft_prompt, question, gold, distractors, n, position, include, name="raft_prompt")
        want = _reference_raft(format_prompt, question, gold, distractors, n, position, include)
        expect(isinstance(got, str), f"raft_prompt should return the prompt string, got {type(got).__name__}")
        expect_equal(got.count("Passage:"), want.count("Passage:"),
                     f"passages in the prompt for n={n}, include_gold={include}",
                     hint="n distractors, plus the gold one if included; the first distractor alone if none")
        expect_equal(gold in got, include, f"whether the gold document is in the prompt (include_gold={include})")
        expect_equal(got, want, f"the prompt for n={n}, position={position}, include_gold={include}",
                     hint="insert the gold document at index `position` of the distractor list, then format_prompt")
    passed(f"raft_prompt builds all {len(cases)} prompts right: gold at its position, or distractors alone")


def check_mixed_texts(mixed_texts, passes) -> None:
    """Exercise 3: the mixed training text for one k, and how many passes a token budget makes over it."""

    model, tok = _course()
    facts = injection.fact_set(seed=0)
    for k in (1, 3):
        got = call_solution(mixed_texts, facts, k, name="mixed_texts")
        want = injection.injection_texts(facts, k, mixed=True)
        expect(isinstance(got, list), f"mixed_texts should return a list of strings, got {type(got).__name__}")
        expect_equal(len(got), len(want), f"the number of texts for k={k}",
                     hint="k renderings of each of the 70 trained documents, then one text per train-half question")
        expect_equal(got, want, f"the texts for k={k}, in order",
                     hint="facts.trained_docs in their order (train half, evaluation half, validation documents); "
                          "QA pairs last (injection.qa_text)")
    texts = injection.injection_texts(facts, 2, mixed=True)
    total = sum(len(tok(t)["input_ids"]) for t in texts)
    for budget in (10_000, 614_400):
        got = call_solution(passes, tok, texts, budget, name="passes")
        expect_close(got, budget / total, f"passes over the k=2 texts with {budget:,} tokens", tol=1e-6,
                     hint="each text costs its tokens without the BOS plus one EOS, i.e. len(tokenizer(text)"
                          "['input_ids'])")
    passed(f"mixed_texts matches the lesson's training text; a budget of 614,400 tokens is {614_400 / total:.1f} "
           f"passes over k=2")


def check_cost_per_fact(cost_per_fact) -> None:
    """Exercise 4: per-fact cost of fine-tuning and of indexing."""
    for train_s, train_tok, n, index_s, index_tok in ((200.0, 600_000, 300, 0.01, 50), (30.0, 1000, 10, 3.0, 7)):
        got = call_solution(cost_per_fact, train_s, train_tok, n, index_s, index_tok, name="cost_per_fact")
        expect(isinstance(got, dict), f"cost_per_fact should return a dict, got {type(got).__name__}")
        missing = {"ft_seconds", "ft_tokens", "rag_seconds", "rag_tokens", "ratio"} - set(got)
        expect(not missing, f"cost_per_fact's dict lacks {sorted(missing)}")
        want = {"ft_seconds": train_s / n, "ft_tokens": train_tok / n, "rag_seconds": index_s,
                "rag_tokens": index_tok, "ratio": train_s / n / index_s}
        for key, value in want.items():
            expect_close(got[key], value, f"{key} for a run of {train_s} s over {n} facts, indexing {index_s} s",
                         tol=1e-6, hint="ratio = fine-tuning seconds per fact / indexing seconds")
    passed("cost_per_fact divides the run's cost by its facts and compares it with indexing one document")


def check_reading_curve(reading_curve) -> None:
    """Experiment 5: exact match with the gold document among n look-alikes."""
    model, tok = _course()
    facts = injection.fact_set(seed=0)
    rows = facts.eval_qa[::13][:20]
    got = call_solution(reading_curve, model, tok, facts, rows, (0, 2), name="reading_curve")
    expect(isinstance(got, dict) and set(got) == {0, 2}, f"reading_curve should return {{n: exact match}} for the "
           f"n it is given, got {got!r:.80}")
    for n in (0, 2):
        lists = injection.reading_passages(facts, rows, n, tokenizer=tok)
        expect(all(prompt_tokens(tok, r["question"], p) <= MAX_PROMPT for r, p in zip(rows, lists,
                                                                                                strict=True)),
               "the reference prompts fit (a bug in the check, not in your code)")
        want = injection.reading_em(model, tok, rows, lists)["em"]
        expect_close(got[n], want, f"exact match with {n} look-alikes on 20 questions", tol=0.051,
                     hint="injection.reading_passages(facts, rows, n, tokenizer=tokenizer) gives fitted prompts; "
                          "score them with injection.reading_em(...)['em']")
    passed("reading_curve agrees with the reference on 20 questions, with 0 and 2 look-alikes")


def check_max_look_alikes(max_look_alikes, curve: dict) -> None:
    """Experiment 5: the depth chosen from the learner's own curve."""
    expect(isinstance(curve, dict) and 0 in curve and len(curve) >= 4,
           "run your reading_curve on the 80 questions for n = 0 to 4 and keep the result as `curve`")
    expect(all(0 <= v <= 1 for v in curve.values()), "every value of `curve` is an exact match rate, from 0 to 1")
    want_depth = max(n for n in curve if curve[n] >= curve[0] - 0.10)
    expect_equal(max_look_alikes, want_depth, "the most look-alikes that cost at most 0.10 exact match",
                 hint="the largest n whose exact match is within 0.10 of the gold document alone (n = 0), read from "
                      "your own curve")
    passed(f"on your curve this reader takes up to {want_depth} look-alike(s) for at most 0.10 exact match")


def check_paired_bootstrap(paired_bootstrap) -> None:
    """Experiment 6: a paired bootstrap of a difference in rates."""
    rng = random.Random(0)
    for n, p_a, p_b in ((300, 0.6, 0.5), (266, 0.3, 0.3), (120, 0.9, 0.6)):
        a = "".join("1" if rng.random() < p_a else "0" for _ in range(n))
        b = "".join("1" if (rng.random() < p_b) else "0" for _ in range(n))
        got = call_solution(paired_bootstrap, a, b, 2000, 0, name="paired_bootstrap")
        expect(isinstance(got, tuple) and len(got) == 3, f"paired_bootstrap returns (difference, low, high), got "
               f"{got!r:.80}")
        want = stats.paired_difference(a, b)
        expect_close(got[0], want[0], f"the difference in rates on {n} questions", tol=1e-9,
                     hint="the rate of a minus the rate of b, on all questions")
        for i, what in ((1, "low"), (2, "high")):
            expect_close(got[i], want[i], f"the interval's {what} end on {n} questions", tol=0.025,
                         hint="resample question indices with replacement, the SAME indices for a and b; the 2.5th "
                              "and 97.5th percentiles of the resampled differences")
    passed("paired_bootstrap agrees with ftrag.stats on three sets of questions")


def check_verdicts(verdicts, intervals: dict) -> None:
    """Experiment 6: each verdict follows from its interval."""
    expect(isinstance(verdicts, dict) and isinstance(intervals, dict) and intervals,
           "compute `intervals` with your paired_bootstrap first, then set `verdicts`: a dict with one verdict each")
    expect(set(verdicts) == set(intervals), "give a verdict for every interval you computed")
    for name, (_, low, high) in intervals.items():
        want = "better" if low > 0 else "worse" if high < 0 else "cannot tell"
        expect_equal(verdicts[name], want, f"the verdict on {name!r}",
                     hint="'better' when the whole interval is above zero, 'worse' when below, else 'cannot tell'")
    passed(f"all {len(verdicts)} verdicts follow from their intervals")
