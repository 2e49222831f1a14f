"""Lesson 05: the same World B facts injected into the course model every way the debate proposes, and measured.

The fact set (``ftrag.tasks.facts``) is a seeded sample of World B documents split into a **train half** (its
question/answer pairs may be trained on), an **evaluation half** (only its documents are ever trained on; its
questions are asked) and a small **validation set** drawn from the other documents (trained on as documents; its
questions choose the learning rate and the step to keep, never the evaluation half's). Each arm changes the model
(or the prompt) and is scored on the evaluation half's questions with the same prompt format
(``ftrag.tasks.knowledge_scores``): closed-book exact match, multiple choice by log-likelihood among values of facts
the arms trained on, exact match with the best retrieval pipeline of lesson 04 (BM25, top 1 document), and what it
cost World A.

``python -m ftrag.course.injection --out results/05_injection.json`` trains every arm that does not fit a notebook
and writes one row per arm; the lesson trains the smallest arm live and checks it against its row.
"""

from __future__ import annotations

import functools
import random
import tempfile
from collections.abc import Callable, Sequence

import torch

from ftrag.files import read_examples
from ftrag.lm import format_prompt, pad_id_of, prompt_for, prompt_ids, uses_chat
from ftrag.tasks.facts import (
    N_DOCS,
    N_VALID,
    FactSet,
    distractor_docs,
    fact_set,
    question_wordings,
    rag_passages,
    reading_passages,
    renderings,
    trained_facts,
)
from ftrag.tasks.knowledge_scores import (
    answer_tokens,
    arm_scores,
    closed_book_scores,
    fact_validation,
    reader_scores,
    reader_validation,
    reading_em,
)
from ftrag.train import IGNORE_INDEX, TrainConfig, folder_bytes, lm_examples, lora_model, train, train_selected

__all__ = [  # the lesson reaches the fact set and the scores through this module too
    "N_DOCS", "N_VALID", "FactSet", "answer_tokens", "arm_scores", "closed_book_scores", "distractor_docs", "fact_set",
    "question_wordings", "rag_passages", "reader_scores", "reading_em", "reading_passages", "renderings",
    "trained_facts",
]

BLOCK_SIZE = 256  # packed training blocks (a document is ~60 tokens, a question/answer pair ~25)
STEPS = 300  # optimizer steps per injection arm: the same token budget for every text arm ...
BATCH_SIZE = 8  # ... of STEPS x BATCH_SIZE x BLOCK_SIZE tokens (614k)
LR = {"full": 1e-3, "lora": 3e-3}  # default peak learning rates; the sweep selects them on validation (LR_GRID)
LR_GRID = {"full": (3e-4, 1e-3, 3e-3), "lora": (3e-3, 1e-2)}
LORA_RANK = 16
PARAPHRASE_KS = (1, 5, 10)
REPLAY = 0.25  # share of each text arm's blocks that replay World A's training text (a guard against forgetting)
EVAL_EVERY = 50  # steps between validation scores (early stopping keeps the best)


def qa_text(row: dict, passages: Sequence[str] = (), *, tokenizer=None) -> str:
    """A question/answer pair as one training text, in the course's prompt format (the answer after ``Answer:``);
    with an instruct model's ``tokenizer``, in its chat format instead (``prompt_for``'s turn, the answer, its end of
    turn), the format it is asked in."""
    if tokenizer is not None and uses_chat(tokenizer):
        return prompt_for(tokenizer, row["question"], passages) + row["answer"] + tokenizer.eos_token
    return format_prompt(row["question"], passages) + " " + row["answer"]


def injection_texts(facts: FactSet, k: int = 1, *, mixed: bool = False, tokenizer=None) -> list[str]:
    """Continued-pretraining texts: ``k`` renderings of every trained document; with ``mixed``, plus the train half's
    question/answer pairs (Allen-Zhu & Li's mixed training: they show the model how facts are asked for), in the
    format of ``tokenizer``'s model (``qa_text``)."""
    texts = renderings(facts.trained_docs, k)
    if mixed:
        texts += [qa_text(r, tokenizer=tokenizer) for r in facts.train_qa]
    return texts


@functools.lru_cache(maxsize=1)
def _world_a_training_text() -> tuple[str, ...]:
    return tuple(read_examples("world_a", "phase2.txt.xz"))


def replay_blocks(tokenizer, n_blocks: int, *, block_size: int = BLOCK_SIZE, seed: int = 0) -> list[dict]:
    """``n_blocks`` packed blocks of World A's training text (phase 2: passages, questions, answers), a seeded
    sample: replaying what the model was trained on is the standard guard against forgetting it."""
    pool = list(_world_a_training_text())
    random.Random(f"{seed}:replay").shuffle(pool)
    blocks: list[dict] = []
    start = 0
    while len(blocks) < n_blocks:
        blocks += lm_examples(tokenizer, pool[start:start + 64], block_size=block_size)
        start += 64
    return blocks[:n_blocks]


def packed_examples(tokenizer, texts: Sequence[str], *, steps: int = STEPS, batch_size: int = BATCH_SIZE,
                    block_size: int = BLOCK_SIZE, seed: int = 0, replay: float = 0.0) -> list[dict]:
    """The texts, shuffled and packed into blocks, repeated (in a new order each pass) to fill the token budget
    of ``steps x batch_size`` blocks: every arm sees the same number of tokens, however much text it has.
    ``replay``: that share of the blocks is World A's training text instead (``replay_blocks``), shuffled in."""
    if not 0 <= replay < 1:
        raise ValueError(f"replay must be a share from 0 to below 1, got {replay}")
    rng = random.Random(seed)
    n_replay = round(steps * batch_size * replay)
    blocks: list[dict] = []
    while len(blocks) < steps * batch_size - n_replay:
        order = list(texts)
        rng.shuffle(order)
        blocks += lm_examples(tokenizer, order, block_size=block_size)
    blocks = blocks[:steps * batch_size - n_replay]
    if n_replay:
        blocks += replay_blocks(tokenizer, n_replay, block_size=block_size, seed=seed)
        rng.shuffle(blocks)
    return blocks


def train_texts(model, tokenizer, texts: Sequence[str], *, method: str = "full", rank: int = LORA_RANK,
                lr: float | None = None, steps: int = STEPS, batch_size: int = BATCH_SIZE,
                block_size: int = BLOCK_SIZE, seed: int = 0, progress: bool = True, examples: list | None = None,
                replay: float = 0.0, select: Callable | None = None, eval_every: int = EVAL_EVERY,
                checkpoint=None):
    """Fine-tune ``model`` on ``texts`` (packed, to the token budget; ``replay``: that share is World A text) with
    ``method`` ``"full"`` or ``"lora"``; returns (model, TrainResult). ``examples`` (ready ``input_ids``/``labels``
    rows) replaces the packing. ``select(model)`` (validation scores, a tuple) turns on early stopping: scored every
    ``eval_every`` steps, the best evaluation's weights are kept (``result.selected_step``, ``result.curve``).
    ``checkpoint`` (a file): save the run every 10 steps and resume from it (``ftrag.train.resume``)."""
    if method not in ("full", "lora"):
        raise ValueError(f"method must be 'full' or 'lora', got {method!r}")
    if examples is None:
        examples = packed_examples(tokenizer, texts, steps=steps, batch_size=batch_size, block_size=block_size,
                                   seed=seed, replay=replay)
    torch.manual_seed(seed)
    if method == "lora":
        model = lora_model(model, rank, seed=seed)
    else:
        model.requires_grad_(True)
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr or LR[method], warmup_steps=min(10, steps - 1),
                         seed=seed, progress=progress)
    if select is None:
        return model, train(model, examples, config, pad_id=pad_id_of(tokenizer), checkpoint=checkpoint)
    result, _ = train_selected(model, examples, config, score=select, every=eval_every, pad_id=pad_id_of(tokenizer),
                               checkpoint=checkpoint)
    return model, result


# ----------------------------------------------------------------------------------------------------------
# Question/answer training (memorising questions; RAFT): the loss on the answer only


def answer_example(tokenizer, prompt: str, answer: str) -> dict[str, list[int]]:
    """``input_ids`` = prompt + " " + answer + EOS; ``labels`` mask the prompt (-100): only the answer is learned.
    An instruct model's prompt (``prompt_for``: its chat template, special tokens written already) is followed by
    the answer and its end of turn, as it answers."""
    chat = uses_chat(tokenizer)
    prompt_ids = tokenizer(prompt, add_special_tokens=not chat)["input_ids"]
    answer_ids = tokenizer(("" if chat else " ") + answer, add_special_tokens=False)["input_ids"] + \
        [tokenizer.eos_token_id]
    return {"input_ids": prompt_ids + answer_ids, "labels": [IGNORE_INDEX] * len(prompt_ids) + answer_ids}


def memorise_examples(tokenizer, rows: Sequence[dict]) -> list[dict]:
    """Closed-book question/answer examples: the question string and its answer, nothing else, in the format the
    model is asked in (``prompt_for``: the course's lines, or an instruct model's chat turn)."""
    return [answer_example(tokenizer, prompt_for(tokenizer, r["question"]), r["answer"]) for r in rows]


def raft_prompts(facts: FactSet, rows: Sequence[dict], *, max_distractors: int = 4, p_gold: float = 0.8,
                 copies: int = 4, seed: int = 0, tokenizer=None, max_tokens: int = 496,
                 min_distractors: int = 0) -> list[tuple[str, str]]:
    """RAFT-style (Zhang et al., 2024) training prompts: (prompt, answer) pairs.

    Each question appears ``copies`` times; each time, with probability ``p_gold``, its gold document sits among
    ``min_distractors``..``max_distractors`` look-alike documents at a random position, and otherwise only
    distractors are shown (the answer stays the true one: the model learns to find the passage that answers, and
    not to trust any passage).
    With ``tokenizer``, prompts are in the model's own format (``prompt_for``: the course's lines, or an instruct
    model's chat turn, the format it is asked in), and distractors are dropped (the last first) until a prompt fits
    ``max_tokens`` (the course model reads 512 tokens; the rest is room for the answer)."""
    if not 0 <= p_gold <= 1:
        raise ValueError(f"p_gold must be between 0 and 1, got {p_gold}")
    by_id = {d["doc_id"]: d["text"] for d in facts.docs}
    distractors = distractor_docs(facts, [r["question"] for r in rows], [r["doc_id"] for r in rows],
                                  n=max_distractors)
    rng = random.Random(seed)
    render = format_prompt if tokenizer is None else functools.partial(prompt_for, tokenizer)
    out = []
    for _ in range(copies):
        for row, others in zip(rows, distractors, strict=True):
            n = rng.randint(min_distractors, max_distractors)
            passages = rng.sample(others, n) if n else []
            if rng.random() < p_gold:
                passages.insert(rng.randint(0, len(passages)), by_id[row["doc_id"]])
            elif not passages:
                passages = [rng.choice(others)]
            prompt = render(row["question"], passages)
            while tokenizer is not None and len(prompt_ids(tokenizer, prompt)) > max_tokens:
                gold = by_id[row["doc_id"]]
                drop = max(i for i, p in enumerate(passages) if p != gold or len(passages) == 1)
                passages = passages[:drop] + passages[drop + 1:]
                prompt = render(row["question"], passages)
            out.append((prompt, row["answer"]))
    return out


def train_answers(model, tokenizer, examples: Sequence[dict], *, method: str = "full", rank: int = LORA_RANK,
                  lr: float | None = None, steps: int = 100, batch_size: int = 16, seed: int = 0,
                  progress: bool = True, select: Callable | None = None, eval_every: int = EVAL_EVERY,
                  checkpoint=None):
    """Fine-tune on question/answer examples (``answer_example`` rows); returns (model, TrainResult)."""
    return train_texts(model, tokenizer, (), method=method, rank=rank, lr=lr, steps=steps, batch_size=batch_size,
                       seed=seed, progress=progress, examples=list(examples), select=select, eval_every=eval_every,
                       checkpoint=checkpoint)


# ----------------------------------------------------------------------------------------------------------
# The arms, and the sweep that trains the ones a notebook has no time for

MEMORISE = {"steps": 150, "batch_size": 16}  # ~18 passes over the evaluation half's lexical questions
WORDINGS = {"steps": 150, "batch_size": 16}  # ~3 passes over 3-5 other wordings of every evaluated fact
RAFT = {"steps": 150, "batch_size": 16, "lr": 1e-4, "copies": 4, "p_gold": 0.95, "min_distractors": 0,
        "max_distractors": 4}
RAFT_CONTROL = {**RAFT, "p_gold": 1.0, "max_distractors": 0}  # the same training, the gold passage alone

ARMS = {  # name: how the model is changed (k: renderings per document; mixed: plus the train half's QA pairs)
    "documents, LoRA": {"data": "texts", "k": 1, "mixed": False, "method": "lora"},
    "documents, full": {"data": "texts", "k": 1, "mixed": False, "method": "full"},
    "10 paraphrases, full": {"data": "texts", "k": 10, "mixed": False, "method": "full"},
    **{f"mixed, k={k}": {"data": "texts", "k": k, "mixed": True, "method": "full"} for k in PARAPHRASE_KS},
    "mixed, k=10, LoRA": {"data": "texts", "k": 10, "mixed": True, "method": "lora"},
    "mixed, k=10, no replay": {"data": "texts", "k": 10, "mixed": True, "method": "full", "replay": 0.0},
    "question wordings": {"data": "wordings", "method": "full"},
    "memorised questions": {"data": "memorise", "method": "full"},
    "RAFT reader": {"data": "raft", "method": "full"},
    "RAFT control: gold only": {"data": "raft-control", "method": "full"},
}
OWN_BUDGET = ("question wordings", "memorised questions", "RAFT reader", "RAFT control: gold only")  # not 614k tokens


def train_arm(model, tokenizer, facts: FactSet, spec: dict, *, seed: int = 0, progress: bool = True,
              lr: float | None = None, select: bool = True, budget: dict | None = None, checkpoint=None):
    """Change ``model`` as the arm ``spec`` (a value of ``ARMS``) says; returns (model, TrainResult).

    ``lr`` overrides the arm's learning rate (the sweep passes the one its grid selected); ``select`` turns on early
    stopping on the validation documents (all arms but the memorised questions, whose point is the strings).
    ``budget`` (``steps``, ``batch_size``, ``block_size``, ``eval_every``) replaces a text arm's token budget, and
    (``steps``, ``batch_size``, ``eval_every``) the question arms' ``MEMORISE`` and ``WORDINGS`` (the real model's
    command trains on smaller ones). ``checkpoint`` (a file): the run saves itself there and resumes from it."""
    qa_budget = {k: v for k, v in (budget or {}).items() if k in ("steps", "batch_size", "eval_every")}
    if spec["data"] == "texts":
        return train_texts(model, tokenizer, injection_texts(facts, spec["k"], mixed=spec["mixed"],
                                                             tokenizer=tokenizer),
                           method=spec["method"], seed=seed, progress=progress, lr=lr,
                           replay=spec.get("replay", REPLAY), select=fact_validation(tokenizer, facts) if select
                           else None, checkpoint=checkpoint, **(budget or {}))
    if spec["data"] == "memorise":
        rows = [r for r in facts.eval_qa if r["kind"] == "lexical"]
        return train_answers(model, tokenizer, memorise_examples(tokenizer, rows), method=spec["method"], lr=lr,
                             seed=seed, progress=progress, checkpoint=checkpoint, **{**MEMORISE, **qa_budget})
    if spec["data"] == "wordings":  # the other wordings of the evaluated and the validation facts
        rows = question_wordings(facts.eval_docs + facts.valid_docs)
        return train_answers(model, tokenizer, memorise_examples(tokenizer, rows), method=spec["method"], lr=lr,
                             seed=seed, progress=progress, select=fact_validation(tokenizer, facts) if select
                             else None, checkpoint=checkpoint, **{**WORDINGS, **qa_budget})
    if spec["data"] in ("raft", "raft-control"):
        recipe = RAFT if spec["data"] == "raft" else RAFT_CONTROL
        pairs = raft_prompts(facts, facts.train_qa, min_distractors=recipe["min_distractors"],
                             max_distractors=recipe["max_distractors"], p_gold=recipe["p_gold"],
                             copies=recipe["copies"], seed=seed, tokenizer=tokenizer)
        return train_answers(model, tokenizer, [answer_example(tokenizer, p, a) for p, a in pairs],
                             method=spec["method"], lr=recipe["lr"], seed=seed, progress=progress,
                             steps=recipe["steps"], batch_size=recipe["batch_size"],
                             select=reader_validation(tokenizer, facts) if select else None, checkpoint=checkpoint)
    raise ValueError(f"unknown arm data {spec['data']!r}; use 'texts', 'memorise', 'wordings', 'raft' or "
                     "'raft-control'")


def record_rows(record: dict, rows_qa: Sequence[dict]) -> dict[str, dict]:
    """A real model's record (``python -m ftrag.course.real_injection``) in the sweep's row keys, for the lesson's
    tables: ``em`` and ``rag_em`` hold the record's ``answer_metric`` (containment: an instruct model answers in
    sentences), with their per-question hits (``em_hits``, ``rag_hits``) and their rates by question kind."""
    metric = {"contains_answer": "contains", "exact_match": "strict"}[record["answer_metric"]]
    out = {}
    for name, row in record["rows"].items():
        if row["n"] != len(rows_qa):
            raise ValueError(f"the record's row {name!r} scored {row['n']} questions, not these {len(rows_qa)}")
        new = {k: v for k, v in row.items() if not k.startswith(("contains", "strict", "rag_"))}
        for prefix, key in (("", "em"), ("rag_", "rag")):
            hits = row[f"{prefix}{metric}_hits"]
            new[f"{key}_hits" if key == "rag" else "em_hits"] = hits
            new["rag_em" if key == "rag" else "em"] = row[f"{prefix}{metric}" if metric == "contains"
                                                           else f"{prefix}strict_em"]
            for kind in ("lexical", "paraphrased"):
                kept = [h for h, r in zip(hits, rows_qa, strict=True) if r["kind"] == kind]
                new[f"{'rag_' if key == 'rag' else ''}em_{kind}"] = round(kept.count("1") / len(kept), 4)
        b = record["budget"]  # the text arms' token budget, smaller than the course model's 614k
        tokens = b["steps"] * b["batch_size"] * b["block_size"]
        if name == "closed-book":
            new["budget"] = "-"
        elif ARMS.get(name, {}).get("data", "texts") == "texts":
            new["budget"] = f"{tokens / 1000:.0f}k tokens"
        else:  # a question arm: its steps of chat examples
            new["budget"] = f"{row['steps']} x {row['batch_size']} examples"
        out[name] = new
    return out


def saved_bytes(model) -> int:
    """What the arm adds on disk: the adapter for LoRA, every weight (safetensors) for full fine-tuning."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        return folder_bytes(tmp)
