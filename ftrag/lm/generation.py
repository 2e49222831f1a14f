"""Using a model: the course's prompt format, greedy or sampled generation, answers to questions, exact match.
"""

from __future__ import annotations

import contextlib
import re
import string
from collections.abc import Sequence

import torch

from ftrag.env import release_memory
from ftrag.files import read_examples, read_jsonl
from ftrag.lm.load import context_of, device_of
from ftrag.lm.scoring import pad_id_of, perplexity

# ----------------------------------------------------------------------------------------------------------
# The prompt format (fixed: the course model was pretrained on exactly this)


def format_prompt(question: str, passages: Sequence[str] = ()) -> str:
    """One ``Passage:`` line per passage, then ``Question:`` and ``Answer:``; the model continues with " <answer>"."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty string, got {question!r}")
    if isinstance(passages, str):  # a bare string would be read as one passage per character
        raise ValueError("passages must be a list of strings, not one string; wrap it: [passage]")
    lines = []
    for i, passage in enumerate(passages):
        if not isinstance(passage, str) or not passage.strip():
            raise ValueError(f"passage {i} must be a non-empty string, got {passage!r}")
        # A newline inside a passage would look like the start of a new field to the model.
        lines.append("Passage: " + " ".join(passage.split()))
    lines.append("Question: " + " ".join(question.split()))
    lines.append("Answer:")
    return "\n".join(lines)


# An instruct model (one whose tokenizer has a chat template) gets the same lines as the user's message, after this
# instruction and one worked turn (about an invented bridge, in no world of the course): exact match needs the
# answer alone, in the passage's words, and a 135M instruct model answers in sentences without an example.
CHAT_INSTRUCTION = ("Answer the question in as few words as possible: only the name, number, date or phrase that "
                    "answers it, copied from the passages when they contain it. No sentence, no explanation.")
CHAT_EXAMPLE = {"passage": "The Lumen Bridge over the Arvel river opened on May 3, 1998. It is 420 metres long and "
                           "was designed by Ilsa Moreau.",
                "question": "Who designed the Lumen Bridge?", "answer": "Ilsa Moreau"}


def uses_chat(tokenizer) -> bool:
    """Whether the model speaks through a chat template (an instruct model) rather than the course's plain lines."""
    return bool(getattr(tokenizer, "chat_template", None))


def prompt_ids(tokenizer, prompt: str) -> list[int]:
    """A prompt's token ids as generation sees them: a chat template has written its special tokens already, the
    course's lines get the tokenizer's own (``verbose=False``: no warning for a prompt past the context)."""
    return tokenizer(prompt, add_special_tokens=not uses_chat(tokenizer), verbose=False)["input_ids"]


def prompt_for(tokenizer, question: str, passages: Sequence[str] = ()) -> str:
    """The prompt in the model's own format: the course's ``Passage:/Question:/Answer:`` lines (``format_prompt``),
    or, for an instruct model, the same passages and question as a chat turn (its template, ready for the answer)."""
    lines = format_prompt(question, passages)
    if not uses_chat(tokenizer):
        return lines
    example = format_prompt(CHAT_EXAMPLE["question"], [CHAT_EXAMPLE["passage"]] if passages else [])
    messages = [{"role": "system", "content": CHAT_INSTRUCTION},
                {"role": "user", "content": example.removesuffix("Answer:").rstrip()},
                {"role": "assistant", "content": CHAT_EXAMPLE["answer"]},
                {"role": "user", "content": lines.removesuffix("Answer:").rstrip()}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


# ----------------------------------------------------------------------------------------------------------
# Generation


def with_distractors(row: dict, n: int) -> list[str]:
    """An RC row's gold passage and its first ``n`` distractors, in the row's own order (for ``format_prompt``)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    others = [i for i in range(len(row["passages"])) if i != row["gold"]][:n]
    return [row["passages"][i] for i in sorted([*others, row["gold"]])]


def _newline_token_ids(tokenizer) -> list[int]:
    """Ids of every token whose text contains a newline (a byte-level BPE may merge "\\n" with other bytes)."""
    cache = getattr(tokenizer, "_ftrag_newline_ids", None)
    if cache is None:
        pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        cache = [i for i, piece in enumerate(pieces) if "\n" in piece]
        tokenizer._ftrag_newline_ids = cache
    return cache


@torch.no_grad()
def generate(model, tokenizer, prompts: Sequence[str], *, max_new_tokens: int = 16, do_sample: bool = False,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
             stop_at_newline: bool = True, batch_size: int = 32) -> list[str]:
    """Continue each prompt (greedy by default) and return the new text, cut at end-of-text and newline."""
    if isinstance(prompts, str):
        raise ValueError("prompts must be a list of strings; for one prompt pass [prompt]")
    if max_new_tokens < 1 or batch_size < 1:
        raise ValueError(f"max_new_tokens and batch_size must be >= 1, got {max_new_tokens} and {batch_size}")
    if do_sample and temperature <= 0:
        raise ValueError(f"temperature must be > 0 when sampling, got {temperature} (use do_sample=False for greedy)")
    prompts = list(prompts)
    if not prompts:
        return []
    special = not uses_chat(tokenizer)  # a chat template writes its own special tokens into the text
    context = context_of(model)
    if context:  # past its positions a model fails (learned positions) or silently writes nonsense (RoPE)
        lengths = [len(ids) for ids in tokenizer(prompts, verbose=False, add_special_tokens=special)["input_ids"]]
        i = max(range(len(prompts)), key=lengths.__getitem__)
        if lengths[i] + max_new_tokens > context:
            raise ValueError(
                f"prompt {i} has {lengths[i]} tokens, and with max_new_tokens={max_new_tokens} that makes "
                f"{lengths[i] + max_new_tokens}, more than the model's context of {context} tokens: shorten the "
                f"prompt (fewer or shorter passages) or ask for fewer new tokens "
                f"(at most {max(context - lengths[i], 0)} with this prompt)")
    eos = tokenizer.eos_token_id
    stop_ids = [i for i in [eos] if i is not None] + (_newline_token_ids(tokenizer) if stop_at_newline else [])
    # Say every sampling knob explicitly, so a hub model's own generation_config (often sampling) cannot leak in.
    # (top_k=0 and top_p=1.0 switch those filters off; None would fall back to the library's top_k=50.)
    sampling = dict(do_sample=True, temperature=temperature, top_k=top_k or 0, top_p=top_p or 1.0) if do_sample \
        else dict(do_sample=False, temperature=None, top_k=None, top_p=None)
    old_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    device = device_of(model)
    # Longest prompts first, so a batch holds prompts of similar length and little padding.
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    outputs: list[str] = [""] * len(prompts)
    try:
        # With a seed, a private RNG stream: the same text every time, and the global RNG is left alone.
        # Without one, sampling draws from (and advances) the global RNG, as torch.manual_seed(...) set it.
        if seed is None:
            rng = contextlib.nullcontext()
        elif device.type == "cpu":
            rng = torch.random.fork_rng(devices=[])
        else:
            rng = torch.random.fork_rng(devices=[device.index or 0], device_type=device.type)
        with rng:
            if seed is not None:
                torch.manual_seed(seed)
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True,
                                add_special_tokens=special).to(device)
                out = model.generate(**enc, max_new_tokens=max_new_tokens, eos_token_id=stop_ids or None,
                                     pad_token_id=pad_id_of(tokenizer), **sampling)
                new = out[:, enc["input_ids"].shape[1]:]  # (B, <= max_new_tokens)
                for i, row in zip(idx, new.tolist(), strict=True):
                    if eos is not None and eos in row:
                        row = row[:row.index(eos)]
                    text = tokenizer.decode(row, skip_special_tokens=True)
                    if stop_at_newline:
                        text = text.split("\n", 1)[0]
                    outputs[i] = text.strip()
    finally:
        tokenizer.padding_side = old_side
    release_memory(collect=False)  # the key-value caches are freed: give their pages back
    return outputs


def answer_questions(model, tokenizer, questions: Sequence[str], passages_list: Sequence[Sequence[str]] | None = None,
                     **kw) -> list[str]:
    """Answer each question (with its passages, if given) in the model's prompt format (``prompt_for``)."""
    if isinstance(questions, str):
        raise ValueError("questions must be a list of strings; for one question pass [question]")
    if passages_list is None:
        passages_list = [()] * len(questions)
    if len(passages_list) != len(questions):
        raise ValueError(f"got {len(questions)} questions but {len(passages_list)} passage lists; "
                         "pass one list per question")
    prompts = [prompt_for(tokenizer, q, p) for q, p in zip(questions, passages_list, strict=True)]
    return generate(model, tokenizer, prompts, **kw)


# ----------------------------------------------------------------------------------------------------------
# Exact match

_ARTICLE = re.compile(r"^(a|an|the)\s+")
_TRAILING_PUNCT = string.punctuation.replace(")", "").replace("]", "").replace("}", "")  # keep closing brackets


def normalize_answer(s: str) -> str:
    """Lowercase, collapse spaces, drop trailing punctuation and a leading article (a/an/the)."""
    s = " ".join(str(s).lower().split())
    s = s.rstrip(_TRAILING_PUNCT + " ")
    return _ARTICLE.sub("", s).strip()


def _pairs(predictions, references, metric: str) -> list[tuple[str, list[str]]]:
    """Each prediction with its reference(s), normalised (``normalize_answer``); a clear error if they do not pair."""
    if isinstance(predictions, str) or isinstance(references, str):
        raise ValueError("predictions and references must be lists of strings, not one string")
    if len(predictions) != len(references):
        raise ValueError(f"got {len(predictions)} predictions but {len(references)} references; they must pair up")
    if not predictions:
        raise ValueError(f"{metric} needs at least one prediction")
    return [(normalize_answer(p), [normalize_answer(r) for r in ([ref] if isinstance(ref, str) else ref)])
            for p, ref in zip(predictions, references, strict=True)]


def exact_match(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Share of predictions equal to their reference after normalize_answer (a reference may list several)."""
    pairs = _pairs(predictions, references, "exact_match")
    return sum(p in refs for p, refs in pairs) / len(pairs)


def contains_answer(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Share of predictions that contain their reference as whole words ("It ran for 7 hours." contains "7 hours").

    For a model that answers in sentences (an instruct model under its chat template), where exact match would
    count a right answer as wrong. It is lenient the other way: a long output that lists several candidates counts.
    """
    def words(text):
        return f" {' '.join(re.findall(r'[a-z0-9]+', text))} "
    pairs = _pairs(predictions, references, "contains_answer")
    return sum(any(words(r) in words(p) for r in refs) for p, refs in pairs) / len(pairs)


def token_f1(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Mean token F1 (SQuAD's): the overlap of prediction and reference words, best reference per prediction."""
    def f1(pred, ref):
        p, r = pred.split(), ref.split()
        common = sum(min(p.count(w), r.count(w)) for w in set(p))
        return 0.0 if common == 0 else 2 * common / (len(p) + len(r))
    pairs = _pairs(predictions, references, "token_f1")
    return sum(max(f1(p, r) for r in refs) for p, refs in pairs) / len(pairs)


def rc_em(model, tok, rows: list[dict], n: int) -> tuple[float, int]:
    """Reading-comprehension EM on the rows that have at least ``n`` distractors (and how many rows)."""
    rows = [r for r in rows if len(r["passages"]) - 1 >= n]
    preds = answer_questions(model, tok, [r["question"] for r in rows], [with_distractors(r, n) for r in rows],
                             max_new_tokens=16)
    return exact_match(preds, [r["answer"] for r in rows]), len(rows)


def world_a_scores(model, tokenizer, *, n_heldout: int = 100, n_rc: int = 100) -> dict:
    """What a model still knows of World A (the forgetting check after fine-tuning).

    ``world_a_ppl``: perplexity on the first ``n_heldout`` held-out World A texts; ``rc_em``: reading-comprehension
    exact match on the first ``n_rc`` rows of ``rc_test.jsonl`` (gold passage alone, greedy answer).
    """

    rc = read_jsonl("world_a", "rc_test.jsonl")[:n_rc]
    answers = answer_questions(model, tokenizer, [r["question"] for r in rc], [with_distractors(r, 0) for r in rc],
                               max_new_tokens=16)
    return {"world_a_ppl": perplexity(model, tokenizer, read_examples("world_a", "heldout.txt")[:n_heldout]),
            "rc_em": exact_match(answers, [r["answer"] for r in rc])}
