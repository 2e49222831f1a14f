"""The JSON task of lesson 02: prompts, SFT examples, constrained decoding and the metrics every method is scored by.

A notice (plain English) goes in; a JSON object that follows ``data/json_task/schema.json`` should come out.
Every method (prompting, constrained decoding, LoRA, QLoRA, full fine-tuning) is scored by :func:`score` on the
same test notices, so the results table compares like with like.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence

import jsonschema
import torch

from ftrag.files import read_jsonl
from ftrag.lm import format_prompt, generate
from ftrag.lm.generation import prompt_ids, uses_chat
from ftrag.lm.scoring import pad_id_of, token_nll
from ftrag.paths import data_path
from ftrag.train.loop import IGNORE_INDEX

# The zero-shot JSON prompt: the notice as a passage, the request as a question (the model's own format).
JSON_QUESTION = "What is this notice written as a JSON object?"
# An instruct model (its tokenizer has a chat template) gets the same lines as the user's turn, after this system
# turn: what a practitioner would write. Its worked examples (few-shot) are earlier user/assistant turns.
JSON_INSTRUCTION = "Reply with one JSON object only, no explanation."


# ----------------------------------------------------------------------------------------------------------
# Data and schema


def load_schema() -> dict:
    """The task's JSON Schema (``data/json_task/schema.json``)."""
    return json.loads(data_path("json_task", "schema.json").read_text(encoding="utf-8"))


def load_split(split: str) -> list[dict]:
    """Rows of ``train``, ``valid`` or ``test``: ``id``, ``text`` (the notice) and ``target`` (the JSON object).

    ``valid`` is for choosing steps and settings; ``test`` is scored once, with what ``valid`` chose.
    """
    if split not in ("train", "valid", "test"):
        raise ValueError(f"unknown split {split!r}; choose 'train', 'valid' or 'test'")
    return read_jsonl("json_task", f"{split}.jsonl")


def field_paths(schema: dict, prefix: str = "") -> list[str]:
    """The leaf fields of an object schema, nested ones as ``contact.name`` (in the schema's order)."""
    if schema.get("type") != "object" or "properties" not in schema:
        raise ValueError("field_paths needs an object schema with 'properties'")
    paths = []
    for name, sub in schema["properties"].items():
        if sub.get("type") == "object" and "properties" in sub:
            paths += field_paths(sub, f"{prefix}{name}.")
        else:
            paths.append(prefix + name)
    return paths


def serialize(target: dict, schema: dict | None = None) -> str:
    """The one JSON text a model is trained to emit: keys in the schema's order, ``json.dumps``'s default spacing.

    The spacing matters for a byte-level BPE: after ``": "`` a number is written ``" 13"``, one token the model
    already knows from notices ("limited to 13"), instead of the digits one by one.
    """
    if not isinstance(target, dict):
        raise ValueError(f"target must be a dict (a JSON object), got {type(target).__name__}")

    def ordered(obj, sub):
        if not isinstance(obj, dict):
            return obj
        props = (sub or {}).get("properties", {})
        keys = [k for k in props if k in obj] + sorted(k for k in obj if k not in props)
        return {k: ordered(obj[k], props.get(k)) for k in keys}

    return json.dumps(ordered(target, schema or load_schema()), ensure_ascii=False)


# ----------------------------------------------------------------------------------------------------------
# Prompts (the course's own format: the notice is the passage, the request is the question)


def task_prompt(notice: str, tokenizer=None) -> str:
    """The zero-shot prompt: ``Passage: <notice>`` / ``Question: <JSON_QUESTION>`` / ``Answer:``; with the
    ``tokenizer`` of an instruct model, the same lines as a chat turn (:func:`few_shot_prompt` with no shots)."""
    if tokenizer is not None and uses_chat(tokenizer):
        return few_shot_prompt(notice, (), tokenizer)
    return format_prompt(JSON_QUESTION, [notice])


def few_shot_prompt(notice: str, shots: Sequence[dict], tokenizer=None) -> str:
    """``k`` solved examples (rows with ``text`` and ``target``), a blank line after each, then the notice's prompt.

    With the ``tokenizer`` of an instruct model: its chat template, a system turn (``JSON_INSTRUCTION``), each
    example as a user turn and the assistant's JSON, then the notice's turn, ready for the answer.
    """
    if isinstance(shots, dict):
        raise ValueError("shots must be a list of rows; for one example pass [row]")
    if tokenizer is not None and uses_chat(tokenizer):
        return tokenizer.apply_chat_template(chat_messages(notice, shots), tokenize=False, add_generation_prompt=True)
    blocks = [f"{task_prompt(row['text'])} {serialize(row['target'])}" for row in shots]
    return "\n\n".join([*blocks, task_prompt(notice)])


def chat_messages(notice: str, shots: Sequence[dict] = ()) -> list[dict]:
    """The conversation an instruct model is given: a system turn (``JSON_INSTRUCTION``), each solved example as a
    user turn and the assistant's JSON, then the notice's user turn (the course's lines without ``Answer:``)."""
    def user(text):
        return task_prompt(text).removesuffix("Answer:").rstrip()

    messages = [{"role": "system", "content": JSON_INSTRUCTION}]
    for row in shots:
        messages += [{"role": "user", "content": user(row["text"])},
                     {"role": "assistant", "content": serialize(row["target"])}]
    return [*messages, {"role": "user", "content": user(notice)}]


def check_fits(tokenizer, prompts: Sequence[str], max_new_tokens: int, context: int) -> int:
    """Raise if the longest prompt plus ``max_new_tokens`` exceeds the model's context; return that length."""
    longest = max(len(prompt_ids(tokenizer, p)) for p in prompts)
    if longest + max_new_tokens > context:
        raise ValueError(f"the longest prompt has {longest} tokens; with {max_new_tokens} new tokens it exceeds the "
                         f"model's context of {context}: use fewer or shorter examples, or fewer new tokens")
    return longest


# ----------------------------------------------------------------------------------------------------------
# Supervised fine-tuning examples


def sft_example(tokenizer, notice: str, target: dict, *, schema: dict | None = None,
                max_length: int = 512) -> dict[str, list[int]]:
    """``input_ids`` = prompt + " " + JSON + EOS; ``labels`` = the same with -100 on every prompt token.

    Prompt and answer are tokenized separately and joined, so the prompt's tokens are exactly the ones the model
    gets at generation time, and the boundary between them (what is masked) is exact. An instruct model's prompt
    is its chat turn (:func:`task_prompt`), its answer the JSON with no leading space, and its EOS ends the turn.
    """
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no EOS token; the model could never learn to stop after the JSON")
    chat = uses_chat(tokenizer)
    prompt_tokens = prompt_ids(tokenizer, task_prompt(notice, tokenizer))
    answer_ids = tokenizer(("" if chat else " ") + serialize(target, schema), add_special_tokens=False)["input_ids"]
    answer_ids = answer_ids + [tokenizer.eos_token_id]  # learn to stop: generate() cuts at EOS
    ids = prompt_tokens + answer_ids
    if len(ids) > max_length:
        raise ValueError(f"example is {len(ids)} tokens, over max_length={max_length}; shorten the notice")
    return {"input_ids": ids, "labels": [IGNORE_INDEX] * len(prompt_tokens) + answer_ids}


def sft_dataset(tokenizer, rows: Sequence[dict], **kw) -> list[dict[str, list[int]]]:
    """:func:`sft_example` for every row (``text``, ``target``)."""
    return [sft_example(tokenizer, row["text"], row["target"], **kw) for row in rows]


# ----------------------------------------------------------------------------------------------------------
# Learnability: which answer tokens training makes predictable, and a control it cannot

CODE_FIELD, CODE_CHARS, CODE_LENGTH = "code", "abcdefghijklmnopqrstuvwxyz0123456789", 4
# The control's floor: a code drawn uniformly at random carries 4 x ln 36 = 14.33 nats that no model can predict.
CODE_NATS = CODE_LENGTH * math.log(len(CODE_CHARS))
COPIED = ("title", "town", "seats", "contact.name", "contact.phone")  # written in the notice as they are in the JSON
INFERRED = ("event_type", "date")  # the notice never writes them as the JSON does: read, then convert


def with_random_code(rows: Sequence[dict], seed: int = 0) -> list[dict]:
    """The control task: each row's target gains ``"code": "<4 random characters>"``, drawn from the row's id and
    ``seed`` alone, so nothing in the notice predicts it (serialized after ``contact``, outside the schema)."""
    out = []
    for row in rows:
        rng = random.Random(f"{seed}:{row['id']}")
        code = "".join(rng.choice(CODE_CHARS) for _ in range(CODE_LENGTH))
        out.append({**row, "target": {**row["target"], CODE_FIELD: code}})
    return out


def answer_token_kinds(tokenizer, target: dict) -> tuple[list[int], list[str]]:
    """The answer's tokens as :func:`sft_example` trains them (``" " + JSON``, then EOS) and each one's kind.

    Kinds: ``structure`` (braces, quotes, keys, separators, the EOS), ``copied`` (a value of :data:`COPIED`),
    ``inferred`` (a value of :data:`INFERRED`) or ``code`` (the control's random code). A token takes the kind of
    the value its characters overlap; quotes around a value are structure.
    """
    text = " " + serialize(target)
    spans = []  # (start, end, kind) of each value's characters in text
    for path in [*COPIED, *INFERRED, *([CODE_FIELD] if CODE_FIELD in target else [])]:
        value = _get(target, path)
        quote = '"' if isinstance(value, str) else ""  # a string's quotes are structure, not value
        key = json.dumps(path.split(".")[-1]) + ": " + quote
        at = text.index(key) + len(key)
        length = len(json.dumps(value, ensure_ascii=False)) - 2 * len(quote)
        kind = "copied" if path in COPIED else "inferred" if path in INFERRED else "code"
        spans.append((at, at + length, kind))
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    kinds = []
    for start, end in enc["offset_mapping"]:
        hit = [k for a, b, k in spans if start < b and end > a]
        kinds.append(hit[0] if hit else "structure")
    return enc["input_ids"] + [tokenizer.eos_token_id], kinds + ["structure"]


def loss_by_kind(model, tokenizer, rows: Sequence[dict], batch_size: int = 16) -> dict[str, dict]:
    """Mean loss (nats per token) of the answer's tokens of each kind, given the zero-shot prompt, over ``rows``.

    Returns ``{kind: {"nats_per_token": ..., "tokens": ...}}``; for ``code`` also ``nats_per_code`` (the sum over a
    code's tokens, to compare with :data:`CODE_NATS`).
    """
    rows_ids, kinds_of, starts = [], [], []
    for row in rows:
        prompt_ids = tokenizer(task_prompt(row["text"]))["input_ids"]
        answer_ids, kinds = answer_token_kinds(tokenizer, row["target"])
        rows_ids.append(prompt_ids + answer_ids)
        kinds_of.append(kinds)
        starts.append(len(prompt_ids))
    totals: dict[str, list[float]] = {}
    for i in range(0, len(rows_ids), batch_size):
        nlls = token_nll(model, rows_ids[i:i + batch_size], pad_id_of(tokenizer))  # loss of token j+1 given 0..j
        for nll, kinds, start in zip(nlls, kinds_of[i:i + batch_size], starts[i:i + batch_size], strict=True):
            for loss, kind in zip(nll[start - 1:start - 1 + len(kinds)].tolist(), kinds, strict=True):
                totals.setdefault(kind, []).append(loss)
    out = {k: {"nats_per_token": sum(v) / len(v), "tokens": len(v)} for k, v in totals.items()}
    if "code" in out:
        out["code"]["nats_per_code"] = sum(totals["code"]) / len(rows)
    return out


# ----------------------------------------------------------------------------------------------------------
# Metrics


_MISSING = object()  # "no value": not JSON, or no such field (None would be JSON's null)


def _parse(text):
    if not isinstance(text, str):
        return _MISSING
    try:
        return json.loads(text.strip())
    except ValueError:
        return _MISSING


def parse_json(text: str):
    """The value ``json.loads`` reads from the whole (stripped) text, or None if it is not JSON."""
    value = _parse(text)
    return None if value is _MISSING else value


def _get(obj, path: str):
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _same(a, b) -> bool:
    # Exact, type included: 13 and "13" differ, and so do 1 and True (Python says 1 == True).
    return a is not _MISSING and type(a) is type(b) and a == b


def score(outputs: Sequence[str], targets: Sequence[dict], schema: dict | None = None) -> dict:
    """Parse rate, schema-valid rate, field exact match (per field and overall) and whole-object match.

    - ``parse``: ``json.loads`` accepts the output (any JSON value, even ``13``).
    - ``parse_object``: the output parses to a JSON object (the task asks for one; a model that copies a number
      out of the notice writes valid JSON without a brace).
    - ``schema_valid``: it parses and validates against the schema (Draft 2020-12, with ``format`` checked).
    - ``field_em``: for each leaf field of the schema (``contact.name`` for nested ones), the share of outputs
      whose value equals the target's exactly, type included; an output that does not parse, or lacks the field,
      is wrong on every field. ``field_em`` overall is the mean over all (output, field) pairs.
    - ``object_em``: the share of outputs equal to the whole target object.
    """

    if isinstance(outputs, str):
        raise ValueError("outputs must be a list of strings, not one string")
    if len(outputs) != len(targets):
        raise ValueError(f"got {len(outputs)} outputs but {len(targets)} targets; they must pair up")
    if not outputs:
        raise ValueError("score needs at least one output")
    schema = schema or load_schema()
    validator_cls = jsonschema.validators.validator_for(schema)  # the draft the schema declares
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    fields = field_paths(schema)
    parsed = [_parse(o) for o in outputs]
    ok = [p is not _MISSING for p in parsed]
    valid = [k and validator.is_valid(p) for k, p in zip(ok, parsed, strict=True)]
    per_field = {f: sum(_same(_get(p, f), _get(t, f)) for p, t in zip(parsed, targets, strict=True)) / len(outputs)
                 for f in fields}
    return {
        "parse": sum(ok) / len(outputs),
        "parse_object": sum(isinstance(p, dict) for p in parsed) / len(outputs),
        "schema_valid": sum(valid) / len(outputs),
        "field_em": sum(per_field.values()) / len(fields),
        "object_em": sum(p is not _MISSING and p == t for p, t in zip(parsed, targets, strict=True)) / len(outputs),
        "per_field": per_field,
    }


def results_table(results: dict[str, dict]):
    """A pandas DataFrame, one row per method, from ``{method: {metric: value}}`` (``per_field`` is dropped)."""
    import pandas as pd

    rows = {name: {k: v for k, v in r.items() if k != "per_field"} for name, r in results.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


# ----------------------------------------------------------------------------------------------------------
# Generation: free and constrained

MAX_NEW_TOKENS = 160  # longest target is ~125 tokens; a model that rambles is cut here (and fails to parse)


def json_outputs(model, tokenizer, notices: Sequence[str], *, shots: Sequence[dict] = (),
                 max_new_tokens: int = MAX_NEW_TOKENS, batch_size: int = 50) -> list[str]:
    """Greedy outputs for each notice (zero-shot, or few-shot with ``shots``), cut at EOS and, for the course
    model (whose JSON is one line), at the first newline; an instruct model may spread its JSON over lines."""
    prompts = [few_shot_prompt(n, shots, tokenizer) for n in notices]
    check_fits(tokenizer, prompts, max_new_tokens, model.config.max_position_embeddings)
    return generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                    stop_at_newline=not uses_chat(tokenizer))


class JsonConstraint:
    """The schema compiled into a token-level grammar for one tokenizer (xgrammar), reusable across batches.

    Why xgrammar: it is maintained, installs from PyPI as a wheel with no compiler or network, compiles a JSON
    Schema against a byte-level BPE in well under a second, and ships a transformers ``LogitsProcessor``. It masks
    every token that cannot continue a schema-valid text, so even a model that never saw a brace emits one.
    """

    def __init__(self, tokenizer, schema: dict | None = None, *, vocab_size: int | None = None):
        import xgrammar as xgr

        self.schema = schema or load_schema()
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size or len(tokenizer),
                                                  stop_token_ids=[tokenizer.eos_token_id])
        # No free whitespace: the grammar writes json.dumps's spacing, the same text serialize() trains on.
        self.compiled = xgr.GrammarCompiler(info, max_threads=1).compile_json_schema(
            self.schema, any_whitespace=False, separators=(", ", ": "))

    def logits_processor(self):
        """A fresh processor (xgrammar's keeps per-row state, so one per ``generate`` call)."""
        import xgrammar as xgr

        return xgr.contrib.hf.LogitsProcessor(self.compiled)


def constrained_outputs(model, tokenizer, notices: Sequence[str], constraint: JsonConstraint, *,
                        max_new_tokens: int = 256, batch_size: int = 50) -> list[str]:
    """Greedy outputs forced by the grammar, one per notice.

    ``max_new_tokens`` must cover the longest text the schema allows (bounded strings and integers: under 256
    tokens even one byte per token); a cut-off text would not parse, and the "parse rate 1.00" would not hold.
    """

    if isinstance(notices, str):
        raise ValueError("notices must be a list of strings; for one notice pass [notice]")
    # The trailing space is the one SFT puts between "Answer:" and "{": the grammar starts at the brace. (An
    # instruct model's turn ends with the template's generation prompt, and its answer starts at the brace.)
    chat = uses_chat(tokenizer)
    prompts = [task_prompt(n, tokenizer) if chat else task_prompt(n) + " " for n in notices]
    check_fits(tokenizer, prompts, max_new_tokens, model.config.max_position_embeddings)
    device = next(model.parameters()).device
    old_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    outputs = [""] * len(prompts)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True,
                            add_special_tokens=not chat).to(device)
            with torch.no_grad():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     temperature=None, top_k=None, top_p=None,
                                     logits_processor=[constraint.logits_processor()],
                                     eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
            for i, row in zip(idx, out[:, enc["input_ids"].shape[1]:].tolist(), strict=True):
                outputs[i] = tokenizer.decode(row, skip_special_tokens=True).strip()
    finally:
        tokenizer.padding_side = old_side
    return outputs
