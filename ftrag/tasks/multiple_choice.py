"""Multiple-choice scoring by log-likelihood: does a model prefer the true answer to values of the same kind?

Ovadia et al. ("Fine-Tuning or Retrieval? Comparing Knowledge Injection in LLMs", 2024) score knowledge this way: after
the question (and any passages), each option is scored by the log-probability the model gives its tokens, and the
model "knows" the fact when the true answer scores highest. It needs no generation and no exact wording, so it sees
knowledge that exact match misses. Distractors are other values of the same answer type (another date, another team).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from ftrag.lm import continuation_nll, format_prompt, normalize_answer, pad_id_of


def options_for(rows: Sequence[dict], facts: Sequence[dict], n_distractors: int = 3, seed: int = 0) -> list[list[str]]:
    """For each QA row, its answer and ``n_distractors`` other values of its ``answer_type``, in a seeded order.

    The values come from ``facts`` (``knowledge/facts.jsonl``: ``value``, ``answer_type``); a distractor never equals
    the answer after normalisation. The same row always gets the same options, whatever else is in ``rows``.
    """
    if isinstance(rows, dict) or not rows:
        raise ValueError("rows must be a non-empty list of QA rows (dicts with id, answer, answer_type)")
    if not isinstance(n_distractors, int) or n_distractors < 1:
        raise ValueError(f"n_distractors must be a positive integer, got {n_distractors!r}")
    pools: dict[str, list[str]] = {}
    for fact in facts:
        pools.setdefault(fact["answer_type"], [])
        if fact["value"] not in pools[fact["answer_type"]]:
            pools[fact["answer_type"]].append(fact["value"])
    out = []
    for row in rows:
        missing = {"id", "answer", "answer_type"} - set(row)
        if missing:
            raise ValueError(f"a QA row lacks {sorted(missing)}: {row!r:.120}")
        if row["answer_type"] not in pools:
            raise ValueError(f"no fact has answer_type {row['answer_type']!r}; known: {sorted(pools)}")
        others = sorted(v for v in pools[row["answer_type"]] if normalize_answer(v) != normalize_answer(row["answer"]))
        if len(others) < n_distractors:
            raise ValueError(f"answer_type {row['answer_type']!r} has {len(others)} other values; "
                             f"ask for at most that many distractors")
        rng = random.Random(f"{seed}:{row['id']}")  # per row: independent of the other rows
        options = [row["answer"], *rng.sample(others, n_distractors)]
        rng.shuffle(options)
        out.append(options)
    return out


def option_log_likelihoods(model, tokenizer, prompts: Sequence[str], options: Sequence[Sequence[str]], *,
                           batch_size: int = 32) -> list[list[float]]:
    """log p(" " + option + end | prompt) for every option of every prompt (summed over the option's tokens).

    The end is the tokenizer's EOS: in the course's reading-comprehension text an answer is the last thing in its
    example, so a prefix of a longer option ("June" for "June 5, 2025") does not score as a full answer.
    """

    if isinstance(prompts, str) or len(prompts) != len(options):
        raise ValueError(f"give one list of options per prompt: {len(prompts)} prompts, {len(options)} option lists")
    end = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else \
        tokenizer("\n", add_special_tokens=False)["input_ids"]
    rows, starts, shape = [], [], []
    for prompt, opts in zip(prompts, options, strict=True):
        if isinstance(opts, str) or not opts:
            raise ValueError(f"options must be a non-empty list of strings per prompt, got {opts!r}")
        prefix = tokenizer(prompt)["input_ids"]
        for option in opts:
            rows.append(prefix + tokenizer(" " + " ".join(option.split()), add_special_tokens=False)["input_ids"] + end)
            starts.append(len(prefix))
        shape.append(len(opts))
    nll = continuation_nll(model, rows, starts, pad_id_of(tokenizer), batch_size)
    out, i = [], 0
    for n in shape:
        out.append([-v for v in nll[i:i + n]])
        i += n
    return out


def mc_accuracy(model, tokenizer, rows: Sequence[dict], options: Sequence[Sequence[str]],
                passages_list: Sequence[Sequence[str]] | None = None) -> tuple[float, list[str]]:
    """Share of rows whose answer is the option the model finds most likely (and the option it picked, per row).

    The prompt is the course's format (``format_prompt``): the row's question after its passages, if given.
    """
    if passages_list is not None and len(passages_list) != len(rows):
        raise ValueError(f"got {len(rows)} rows but {len(passages_list)} passage lists; pass one list per row")
    prompts = [format_prompt(r["question"], passages_list[i] if passages_list is not None else ())
               for i, r in enumerate(rows)]
    scores = option_log_likelihoods(model, tokenizer, prompts, options)
    picks = [opts[max(range(len(opts)), key=s.__getitem__)] for opts, s in zip(options, scores, strict=True)]
    hits = [normalize_answer(p) == normalize_answer(r["answer"]) for p, r in zip(picks, rows, strict=True)]
    return sum(hits) / len(rows), picks
