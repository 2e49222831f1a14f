"""Lesson 05: the same World B facts injected into the course model every way the debate proposes, and measured.

The fact set is a seeded sample of World B documents split into a **train half** (its question/answer pairs may be
trained on) and an **evaluation half** (only its documents are ever trained on; its questions are asked). Each arm
changes the model (or the prompt) and is scored on the evaluation half's questions with the same prompt format:
closed-book exact match, multiple-choice accuracy by log-likelihood (``ftrag.tasks.multiple_choice``), exact match
with the best
retrieval pipeline of lesson 04 (BM25, top 1 document), and what it cost World A.

``python -m ftrag.course.injection --out results/05_injection.json`` trains every arm that does not fit a notebook and
writes
one row per arm; the lesson trains the smallest arm live and checks it against its row.
"""


from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ftrag.files import read_jsonl
from ftrag.lm import answer_questions, format_prompt, normalize_answer, pad_id_of, world_a_scores
from ftrag.retrieval import BM25Retriever, chunk_documents
from ftrag.retrieval.rag import answer_with_passages, retrieve_passages
from ftrag.tasks.multiple_choice import mc_accuracy, option_log_likelihoods, options_for
from ftrag.train import IGNORE_INDEX, TrainConfig, folder_bytes, lm_examples, lora_model, train

N_DOCS = 60  # documents in the fact set: half trained with their questions, half asked about
BLOCK_SIZE = 256  # packed training blocks (a document is ~60 tokens, a question/answer pair ~25)
STEPS = 300  # optimizer steps per injection arm: the same token budget for every arm ...
BATCH_SIZE = 8  # ... of STEPS x BATCH_SIZE x BLOCK_SIZE tokens (614k)
LR = {"full": 1e-3, "lora": 3e-3}  # peak learning rates (LoRA wants ~10x the full fine-tuning rate)
LORA_RANK = 16
PARAPHRASE_KS = (1, 2, 5, 10)


@dataclass
class FactSet:
    """The documents of the experiment and the questions about them."""
    docs: list[dict]  # all World B documents (the retrieval index holds every one)
    train_docs: list[dict]  # trained on, and their questions may be trained on too
    eval_docs: list[dict]  # trained on (as documents only); their questions are asked
    train_qa: list[dict] = field(default_factory=list)
    eval_qa: list[dict] = field(default_factory=list)

    @property
    def doc_ids(self) -> list[str]:
        return [d["doc_id"] for d in self.train_docs + self.eval_docs]


def fact_set(n_docs: int = N_DOCS, seed: int = 0) -> FactSet:
    """A seeded sample of ``n_docs`` World B documents, split in two halves, with their questions."""
    docs = read_jsonl("knowledge", "docs.jsonl")
    qa = read_jsonl("knowledge", "qa.jsonl")
    if not isinstance(n_docs, int) or not 2 <= n_docs <= len(docs):
        raise ValueError(f"n_docs must be an integer from 2 to {len(docs)} (World B's documents), got {n_docs!r}")
    chosen = random.Random(seed).sample(docs, n_docs)
    half = n_docs // 2
    train_docs, eval_docs = chosen[:half], chosen[half:]
    train_ids, eval_ids = {d["doc_id"] for d in train_docs}, {d["doc_id"] for d in eval_docs}
    return FactSet(docs=docs, train_docs=train_docs, eval_docs=eval_docs,
                   train_qa=[r for r in qa if r["doc_id"] in train_ids],
                   eval_qa=[r for r in qa if r["doc_id"] in eval_ids])


def renderings(docs: Sequence[dict], k: int) -> list[str]:
    """The first ``k`` renderings of each document (rendering 1 is the document itself; 2..10 paraphrase it)."""
    if not isinstance(k, int) or not 1 <= k <= 10:
        raise ValueError(f"k must be an integer from 1 to 10 (paraphrases.jsonl holds 10 per document), got {k!r}")
    by_doc: dict[str, dict[int, str]] = {}
    for row in read_jsonl("knowledge", "paraphrases.jsonl"):
        by_doc.setdefault(row["doc_id"], {})[row["k"]] = row["text"]
    out = []
    for doc in docs:
        if doc["doc_id"] not in by_doc:
            raise ValueError(f"no paraphrases for {doc['doc_id']!r}; regenerate with `python -m ftrag.world`")
        out += [by_doc[doc["doc_id"]][i] for i in range(1, k + 1)]
    return out


def qa_text(row: dict, passages: Sequence[str] = ()) -> str:
    """A question/answer pair as one training text, in the course's prompt format (the answer after ``Answer:``)."""
    return format_prompt(row["question"], passages) + " " + row["answer"]


def injection_texts(facts: FactSet, k: int = 1, *, mixed: bool = False) -> list[str]:
    """Continued-pretraining texts: ``k`` renderings of every document; with ``mixed``, plus the train half's
    question/answer pairs (Allen-Zhu & Li's mixed training: they show the model how facts are asked for)."""
    texts = renderings(facts.train_docs + facts.eval_docs, k)
    if mixed:
        texts += [qa_text(r) for r in facts.train_qa]
    return texts


def packed_examples(tokenizer, texts: Sequence[str], *, steps: int = STEPS, batch_size: int = BATCH_SIZE,
                    block_size: int = BLOCK_SIZE, seed: int = 0) -> list[dict]:
    """The texts, shuffled and packed into blocks, repeated (in a new order each pass) to fill the token budget
    of ``steps x batch_size`` blocks: every arm sees the same number of tokens, however much text it has."""
    rng = random.Random(seed)
    blocks: list[dict] = []
    while len(blocks) < steps * batch_size:
        order = list(texts)
        rng.shuffle(order)
        blocks += lm_examples(tokenizer, order, block_size=block_size)
    return blocks[:steps * batch_size]


def train_texts(model, tokenizer, texts: Sequence[str], *, method: str = "full", rank: int = LORA_RANK,
                lr: float | None = None, steps: int = STEPS, batch_size: int = BATCH_SIZE,
                block_size: int = BLOCK_SIZE, seed: int = 0, progress: bool = True, examples: list | None = None):
    """Fine-tune ``model`` on ``texts`` (packed, to the token budget) with ``method`` ``"full"`` or ``"lora"``;
    returns (model, TrainResult). ``examples`` (ready ``input_ids``/``labels`` rows) replaces the packing."""
    if method not in ("full", "lora"):
        raise ValueError(f"method must be 'full' or 'lora', got {method!r}")
    if examples is None:
        examples = packed_examples(tokenizer, texts, steps=steps, batch_size=batch_size, block_size=block_size,
                                   seed=seed)
    torch.manual_seed(seed)
    if method == "lora":
        model = lora_model(model, rank, seed=seed)
    else:
        model.requires_grad_(True)
    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr or LR[method], warmup_steps=min(10, steps - 1),
                         seed=seed, progress=progress)
    return model, train(model, examples, config, pad_id=pad_id_of(tokenizer))


# ----------------------------------------------------------------------------------------------------------
# Question/answer training (memorising questions; RAFT): the loss on the answer only


def answer_example(tokenizer, prompt: str, answer: str) -> dict[str, list[int]]:
    """``input_ids`` = prompt + " " + answer + EOS; ``labels`` mask the prompt (-100): only the answer is learned."""
    prompt_ids = tokenizer(prompt)["input_ids"]
    answer_ids = tokenizer(" " + answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return {"input_ids": prompt_ids + answer_ids, "labels": [IGNORE_INDEX] * len(prompt_ids) + answer_ids}


def memorise_examples(tokenizer, rows: Sequence[dict]) -> list[dict]:
    """Closed-book question/answer examples: the question string and its answer, nothing else."""
    return [answer_example(tokenizer, format_prompt(r["question"]), r["answer"]) for r in rows]


def distractor_docs(facts: FactSet, questions: Sequence[str], gold_ids: Sequence[str], n: int = 4) -> list[list[str]]:
    """For each question, the texts of the ``n`` documents BM25 ranks highest that are not its gold document:
    look-alikes (same kind of document, often the same names), the hardest distractors a retriever serves."""
    chunks = chunk_documents(facts.docs)
    ids, _ = BM25Retriever(chunks).search(list(questions), n + 1)
    return [[chunks[int(i)].text for i in row if chunks[int(i)].doc_id != gold][:n]
            for row, gold in zip(ids, gold_ids, strict=True)]


def raft_prompts(facts: FactSet, rows: Sequence[dict], *, max_distractors: int = 4, p_gold: float = 0.8,
                 copies: int = 4, seed: int = 0, tokenizer=None, max_tokens: int = 496,
                 min_distractors: int = 0) -> list[tuple[str, str]]:
    """RAFT-style (Zhang et al., 2024) training prompts: (prompt, answer) pairs.

    Each question appears ``copies`` times; each time, with probability ``p_gold``, its gold document sits among
    ``min_distractors``..``max_distractors`` look-alike documents at a random position, and otherwise only
    distractors are shown (the answer stays the true one: the model learns to find the passage that answers, and
    not to trust any passage).
    With ``tokenizer``, distractors are dropped (the last first) until a prompt fits ``max_tokens`` (the course
    model reads 512 tokens; the rest is room for the answer)."""
    if not 0 <= p_gold <= 1:
        raise ValueError(f"p_gold must be between 0 and 1, got {p_gold}")
    by_id = {d["doc_id"]: d["text"] for d in facts.docs}
    distractors = distractor_docs(facts, [r["question"] for r in rows], [r["doc_id"] for r in rows],
                                  n=max_distractors)
    rng = random.Random(seed)
    out = []
    for _ in range(copies):
        for row, others in zip(rows, distractors, strict=True):
            n = rng.randint(min_distractors, max_distractors)
            passages = rng.sample(others, n) if n else []
            if rng.random() < p_gold:
                passages.insert(rng.randint(0, len(passages)), by_id[row["doc_id"]])
            elif not passages:
                passages = [rng.choice(others)]
            prompt = format_prompt(row["question"], passages)
            while tokenizer is not None and len(tokenizer(prompt, verbose=False)["input_ids"]) > max_tokens:
                gold = by_id[row["doc_id"]]
                drop = max(i for i, p in enumerate(passages) if p != gold or len(passages) == 1)
                passages = passages[:drop] + passages[drop + 1:]
                prompt = format_prompt(row["question"], passages)
            out.append((prompt, row["answer"]))
    return out


def train_answers(model, tokenizer, examples: Sequence[dict], *, method: str = "full", rank: int = LORA_RANK,
                  lr: float | None = None, steps: int = 100, batch_size: int = 16, seed: int = 0,
                  progress: bool = True):
    """Fine-tune on question/answer examples (``answer_example`` rows); returns (model, TrainResult)."""
    return train_texts(model, tokenizer, (), method=method, rank=rank, lr=lr, steps=steps, batch_size=batch_size,
                       seed=seed, progress=progress, examples=list(examples))


# ----------------------------------------------------------------------------------------------------------
# Scoring an arm


def closed_book_scores(model, tokenizer, rows: Sequence[dict], facts_rows: Sequence[dict] | None = None, *,
                       multiple_choice: bool = True) -> dict:
    """Exact match (greedy answer) and 4-way multiple-choice accuracy, overall and by question kind
    (``multiple_choice=False``: exact match only)."""
    facts_rows = facts_rows if facts_rows is not None else read_jsonl("knowledge", "facts.jsonl")
    predictions = answer_questions(model, tokenizer, [r["question"] for r in rows], max_new_tokens=12)
    em_hits = [normalize_answer(p) == normalize_answer(r["answer"]) for p, r in zip(predictions, rows, strict=True)]
    out = {"em": _mean(em_hits)}
    if multiple_choice:
        _, picks = mc_accuracy(model, tokenizer, rows, options_for(rows, facts_rows))
        mc_hits = [normalize_answer(p) == normalize_answer(r["answer"]) for p, r in zip(picks, rows, strict=True)]
        out["mc"] = _mean(mc_hits)
    for kind in ("lexical", "paraphrased"):
        idx = [i for i, r in enumerate(rows) if r["kind"] == kind]
        out[f"em_{kind}"] = _mean([em_hits[i] for i in idx])
        if multiple_choice:
            out[f"mc_{kind}"] = _mean([mc_hits[i] for i in idx])
    return out


def reading_em(model, tokenizer, rows: Sequence[dict], passages_list: Sequence[Sequence[str]]) -> dict:
    """Exact match with the given passages in the prompt (retrieved ones: RAG), overall and by question kind."""
    predictions = answer_with_passages(model, tokenizer, [r["question"] for r in rows], passages_list,
                                       max_new_tokens=12)
    hits = [normalize_answer(p) == normalize_answer(r["answer"]) for p, r in zip(predictions, rows, strict=True)]
    out = {"em": _mean(hits)}
    for kind in ("lexical", "paraphrased"):
        out[f"em_{kind}"] = _mean([h for h, r in zip(hits, rows, strict=True) if r["kind"] == kind])
    return out


def _mean(values: Sequence[bool | float]) -> float:
    return round(sum(values) / len(values), 4) if values else float("nan")


# ----------------------------------------------------------------------------------------------------------
# Changing a fact


def changed_document(doc: dict, old: str, new: str) -> dict:
    """``doc`` with every occurrence of the value ``old`` replaced by ``new`` (a price rises, a deadline moves)."""
    if old not in doc["text"]:
        raise ValueError(f"{old!r} does not occur in {doc['doc_id']}; pick a value the document states")
    return {**doc, "text": doc["text"].replace(old, new)}


def changed_renderings(doc: dict, old: str, new: str, k: int) -> list[str]:
    """The first ``k`` renderings of ``doc`` with ``old`` replaced by ``new`` (the new version to train on)."""
    return [text.replace(old, new) for text in renderings([doc], k)]


def value_preference(model, tokenizer, question: str, old: str, new: str, passages: Sequence[str] = ()) -> float:
    """log p(new) - log p(old) as the answer to ``question``: > 0 when the model prefers the new value."""
    old_ll, new_ll = option_log_likelihoods(model, tokenizer, [format_prompt(question, passages)], [[old, new]])[0]
    return new_ll - old_ll


def reading_passages(facts: FactSet, rows: Sequence[dict], n_distractors: int, seed: int = 0) -> list[list[str]]:
    """Each row's gold document among ``n_distractors`` look-alike documents, at a seeded random position."""
    by_id = {d["doc_id"]: d["text"] for d in facts.docs}
    others = distractor_docs(facts, [r["question"] for r in rows], [r["doc_id"] for r in rows], n=max(n_distractors, 1))
    out = []
    for row, docs in zip(rows, others, strict=True):
        rng = random.Random(f"{seed}:{row['id']}")
        passages = docs[:n_distractors]
        passages.insert(rng.randint(0, len(passages)), by_id[row["doc_id"]])
        out.append(passages)
    return out


def rag_passages(facts: FactSet, rows: Sequence[dict]) -> list[list[str]]:
    """Lesson 04's best pipeline: BM25 over every World B document, the top document (one passage per question)."""
    return retrieve_passages(BM25Retriever(chunk_documents(facts.docs)), [r["question"] for r in rows], 1)


def reader_scores(model, tokenizer, facts: FactSet, rows: Sequence[dict]) -> dict:
    """A reader's exact match with the gold document alone, among 2 and 4 look-alikes, and with RAG's passage."""
    out = {f"gold_{n}": reading_em(model, tokenizer, rows, reading_passages(facts, rows, n))["em"] for n in (0, 2, 4)}
    out["rag"] = reading_em(model, tokenizer, rows, rag_passages(facts, rows))["em"]
    return out


# ----------------------------------------------------------------------------------------------------------
# The arms, and the sweep that trains the ones a notebook has no time for

MEMORISE = {"steps": 150, "batch_size": 16}  # ~18 passes over the evaluation half's lexical questions
RAFT = {"steps": 150, "batch_size": 16, "lr": 1e-4, "copies": 4, "p_gold": 0.95, "min_distractors": 0,
        "max_distractors": 4}
UPDATE_STEPS = 10  # steps on the changed document's renderings (changing a fact)

ARMS = {  # name: how the model is changed (k: renderings per document; mixed: plus the train half's QA pairs)
    "documents, LoRA": {"data": "texts", "k": 1, "mixed": False, "method": "lora"},
    "documents, full": {"data": "texts", "k": 1, "mixed": False, "method": "full"},
    "10 paraphrases, full": {"data": "texts", "k": 10, "mixed": False, "method": "full"},
    **{f"mixed, k={k}": {"data": "texts", "k": k, "mixed": True, "method": "full"} for k in PARAPHRASE_KS},
    "memorised questions": {"data": "memorise", "method": "full"},
    "RAFT reader": {"data": "raft", "method": "full"},
}


def change_target(facts: FactSet) -> dict:
    """The fact that changes in the lesson: the list price of the first product in the evaluation half."""
    doc = next(d for d in facts.eval_docs if d["type"] == "product")
    fact = next(f for f in read_jsonl("knowledge", "facts.jsonl")
                if f["doc_id"] == doc["doc_id"] and f["relation"] == "price")
    digits = int(fact["value"].strip("$").replace(",", ""))
    new = f"${digits * 2 + 1:,}"  # doubled: a value the model has never seen for this product
    questions = [r for r in facts.eval_qa if r["fact_id"] == fact["fact_id"]]
    return {"doc": doc, "old": fact["value"], "new": new, "questions": questions}


def train_arm(model, tokenizer, facts: FactSet, spec: dict, *, seed: int = 0, progress: bool = True):
    """Change ``model`` as the arm ``spec`` (a value of ``ARMS``) says; returns (model, TrainResult)."""
    if spec["data"] == "texts":
        return train_texts(model, tokenizer, injection_texts(facts, spec["k"], mixed=spec["mixed"]),
                           method=spec["method"], seed=seed, progress=progress)
    if spec["data"] == "memorise":
        rows = [r for r in facts.eval_qa if r["kind"] == "lexical"]
        return train_answers(model, tokenizer, memorise_examples(tokenizer, rows), method=spec["method"],
                             seed=seed, progress=progress, **MEMORISE)
    if spec["data"] == "raft":
        pairs = raft_prompts(facts, facts.train_qa, min_distractors=RAFT["min_distractors"],
                             max_distractors=RAFT["max_distractors"], p_gold=RAFT["p_gold"], copies=RAFT["copies"],
                             seed=seed, tokenizer=tokenizer)
        return train_answers(model, tokenizer, [answer_example(tokenizer, p, a) for p, a in pairs],
                             method=spec["method"], lr=RAFT["lr"], seed=seed, progress=progress,
                             steps=RAFT["steps"], batch_size=RAFT["batch_size"])
    raise ValueError(f"unknown arm data {spec['data']!r}; use 'texts', 'memorise' or 'raft'")


def saved_bytes(model) -> int:
    """What the arm adds on disk: the adapter for LoRA, every weight (safetensors) for full fine-tuning."""
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        return folder_bytes(tmp)


def arm_scores(model, tokenizer, facts: FactSet, rag: Sequence[Sequence[str]]) -> dict:
    """Every metric of a row: closed-book EM/MC (evaluation half), closed-book EM on the train half's questions,
    EM with RAG's passages (the model as the reader), and World A (forgetting)."""
    scores = closed_book_scores(model, tokenizer, facts.eval_qa)
    scores["em_train_half"] = closed_book_scores(model, tokenizer, facts.train_qa, multiple_choice=False)["em"]
    scores.update({f"rag_{k}": v for k, v in reading_em(model, tokenizer, facts.eval_qa, rag).items()})
    scores.update(world_a_scores(model, tokenizer))
    return scores


def update_fact(model, tokenizer, facts: FactSet, method: str, *, seed: int = 0) -> dict:
    """Train ``model`` on the changed document's renderings; what it answers before and after, and the cost."""
    target = change_target(facts)
    questions = [r["question"] for r in target["questions"]]
    before = answer_questions(model, tokenizer, questions, max_new_tokens=12)
    texts = changed_renderings(target["doc"], target["old"], target["new"], 10)
    if method == "lora":  # keep training the same adapter
        _, result = train_more(model, tokenizer, texts, seed=seed)
    else:
        model, result = train_texts(model, tokenizer, texts, method="full", steps=UPDATE_STEPS, seed=seed,
                                    progress=False)
    after = answer_questions(model, tokenizer, questions, max_new_tokens=12)
    return {"old": target["old"], "new": target["new"], "questions": questions, "before": before, "after": after,
            "preference_after": [round(value_preference(model, tokenizer, q, target["old"], target["new"]), 3)
                                 for q in questions],
            "update_seconds": round(result.seconds, 2), "update_tokens": result.tokens}


def train_more(model, tokenizer, texts: Sequence[str], *, seed: int = 0):
    """Continue training the trainable parameters a model already has (an adapter) on ``texts``."""
    examples = packed_examples(tokenizer, texts, steps=UPDATE_STEPS, seed=seed)
    config = TrainConfig(steps=UPDATE_STEPS, batch_size=BATCH_SIZE, lr=LR["lora"], warmup_steps=1, seed=seed,
                         progress=False)
    return model, train(model, examples, config, pad_id=pad_id_of(tokenizer))
