"""Lesson 05's fact set, and the passages its readers are given: which documents are trained on, which questions
are asked, which select, and what a reader sees with each question (no model here: ``injection`` trains,
``knowledge_scores`` scores).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from ftrag.files import read_jsonl
from ftrag.lm import format_prompt
from ftrag.retrieval import BM25Retriever, chunk_documents
from ftrag.retrieval.rag import retrieve_passages
from ftrag.world.b_templates import fill
from ftrag.world.world_b import build_world

N_DOCS = 60  # documents in the fact set: half trained with their questions, half asked about
N_VALID = 10  # validation documents (outside the 60): their questions select learning rate and step
MAX_PROMPT = 500  # tokens of passages + question in a reading prompt: 512 minus room for the answer


@dataclass
class FactSet:
    """The documents of the experiment and the questions about them."""
    docs: list[dict]  # all World B documents (the retrieval index holds every one)
    train_docs: list[dict]  # trained on, and their questions may be trained on too
    eval_docs: list[dict]  # trained on (as documents only); their questions are asked
    train_qa: list[dict] = field(default_factory=list)
    eval_qa: list[dict] = field(default_factory=list)
    valid_docs: list[dict] = field(default_factory=list)  # trained on as documents; their questions select
    valid_qa: list[dict] = field(default_factory=list)

    @property
    def trained_docs(self) -> list[dict]:
        """Every document a text arm trains on: both halves and the validation documents."""
        return self.train_docs + self.eval_docs + self.valid_docs

    @property
    def doc_ids(self) -> list[str]:
        return [d["doc_id"] for d in self.trained_docs]


def fact_set(n_docs: int = N_DOCS, seed: int = 0, n_valid: int = N_VALID) -> FactSet:
    """A seeded sample of ``n_docs`` World B documents, split in two halves, with their questions, and ``n_valid``
    validation documents drawn (with a stream of their own) from the rest."""
    docs = read_jsonl("knowledge", "docs.jsonl")
    qa = read_jsonl("knowledge", "qa.jsonl")
    if not isinstance(n_docs, int) or not 2 <= n_docs <= len(docs):
        raise ValueError(f"n_docs must be an integer from 2 to {len(docs)} (World B's documents), got {n_docs!r}")
    chosen = random.Random(seed).sample(docs, n_docs)
    half = n_docs // 2
    train_docs, eval_docs = chosen[:half], chosen[half:]
    rest = [d for d in docs if d not in chosen]
    if not isinstance(n_valid, int) or not 0 <= n_valid <= len(rest):
        raise ValueError(f"n_valid must be an integer from 0 to {len(rest)} (the documents left), got {n_valid!r}")
    valid_docs = random.Random(f"{seed}:valid").sample(rest, n_valid)

    def questions(part: list[dict]) -> list[dict]:
        ids = {d["doc_id"] for d in part}
        return [r for r in qa if r["doc_id"] in ids]

    return FactSet(docs=docs, train_docs=train_docs, eval_docs=eval_docs, train_qa=questions(train_docs),
                   eval_qa=questions(eval_docs), valid_docs=valid_docs, valid_qa=questions(valid_docs))


def trained_facts(facts: FactSet) -> list[dict]:
    """The ``facts.jsonl`` rows of the documents the arms train on: multiple choice draws its distractors from
    these, so every option is a value the fine-tuned models have read (not only the true one)."""
    ids = set(facts.doc_ids)
    return [f for f in read_jsonl("knowledge", "facts.jsonl") if f["doc_id"] in ids]


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


def question_wordings(docs: Sequence[dict]) -> list[dict]:
    """Every question wording World B's templates have for the facts of ``docs`` (4 lexical, 2-3 paraphrased per
    relation), **except the two that ``qa.jsonl`` asks**: what a practitioner who writes several questions per fact
    would train on, while the evaluated wordings stay unseen. Rows: question, answer, fact_id, doc_id."""
    asked = {r["question"] for r in read_jsonl("knowledge", "qa.jsonl")}
    world = {d.doc_id: d for d in build_world().docs}
    rows = []
    for doc in docs:
        if doc["doc_id"] not in world:
            raise ValueError(f"{doc['doc_id']!r} is not a World B document; regenerate with `python -m ftrag.world`")
        wdoc = world[doc["doc_id"]]
        for rel, value in wdoc.facts:
            templates = [q for _, q in rel.variants] + list(rel.paraphrased)
            for question in dict.fromkeys(fill(t, wdoc.subject, "", wdoc.unit) for t in templates):
                if question not in asked:
                    rows.append({"question": question, "answer": value, "fact_id": f"{wdoc.doc_id}-{rel.name}",
                                 "doc_id": wdoc.doc_id})
    return rows


def distractor_docs(facts: FactSet, questions: Sequence[str], gold_ids: Sequence[str], n: int = 4) -> list[list[str]]:
    """For each question, the texts of the ``n`` documents BM25 ranks highest that are not its gold document:
    look-alikes (same kind of document, often the same names), the hardest distractors a retriever serves."""
    chunks = chunk_documents(facts.docs)
    ids, _ = BM25Retriever(chunks).search(list(questions), n + 1)
    return [[chunks[int(i)].text for i in row if chunks[int(i)].doc_id != gold][:n]
            for row, gold in zip(ids, gold_ids, strict=True)]


def reading_passages(facts: FactSet, rows: Sequence[dict], n_distractors: int, seed: int = 0, *, tokenizer=None,
                     max_tokens: int = MAX_PROMPT) -> list[list[str]]:
    """Each row's gold document among ``n_distractors`` look-alike documents, at a seeded random position.

    With ``tokenizer``, look-alikes are dropped (the last first, never the gold document) until the prompt fits
    ``max_tokens``: four ~100-token look-alikes and the gold one overflow the course model's 512 tokens, and a
    prompt that cut its gold passage would score the context length, not the reader (``fewer_than_asked`` counts
    the prompts that hold fewer look-alikes than asked)."""
    by_id = {d["doc_id"]: d["text"] for d in facts.docs}
    others = distractor_docs(facts, [r["question"] for r in rows], [r["doc_id"] for r in rows], n=max(n_distractors, 1))
    out = []
    for row, docs in zip(rows, others, strict=True):
        rng = random.Random(f"{seed}:{row['id']}")
        passages = docs[:n_distractors]
        gold = by_id[row["doc_id"]]
        passages.insert(rng.randint(0, len(passages)), gold)
        while tokenizer is not None and len(passages) > 1 and prompt_tokens(tokenizer, row["question"], passages) \
                > max_tokens:
            drop = max(i for i, p in enumerate(passages) if p != gold)
            passages = passages[:drop] + passages[drop + 1:]
        if tokenizer is not None and prompt_tokens(tokenizer, row["question"], passages) > max_tokens:
            raise ValueError(f"{row['id']}: the gold document alone does not fit {max_tokens} tokens")
        out.append(passages)
    return out


def fewer_than_asked(lists: Sequence[Sequence[str]], n_distractors: int) -> int:
    """How many passage lists (``reading_passages``') hold fewer than ``n_distractors`` look-alikes."""
    return sum(len(p) - 1 < n_distractors for p in lists)


def prompt_tokens(tokenizer, question: str, passages: Sequence[str] = ()) -> int:
    """Tokens of the course's prompt for ``question`` with ``passages``."""
    return len(tokenizer(format_prompt(question, passages), verbose=False)["input_ids"])


def rag_passages(facts: FactSet, rows: Sequence[dict]) -> list[list[str]]:
    """Lesson 04's best pipeline: BM25 over every World B document, the top document (one passage per question)."""
    return retrieve_passages(BM25Retriever(chunk_documents(facts.docs)), [r["question"] for r in rows], 1)
