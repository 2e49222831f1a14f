"""Cutting documents into passages: fixed token windows with overlap, sentences, or whole documents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    """A piece of one document: its text, which document it came from, and where in it."""

    chunk_id: str  # "<doc_id>#<n>", unique
    doc_id: str  # the document it came from (the gold label of the QA set is a doc_id)
    title: str  # the document's title
    doc_type: str  # the document's type (people, team, product, ...)
    text: str  # what the retriever indexes and the reader reads
    start: int  # first token (fixed windows) or first sentence (sentence chunks) of the document it covers
    end: int  # one past the last token or sentence


def _check_docs(docs: Sequence[dict]) -> None:
    if isinstance(docs, dict) or not docs:
        raise ValueError("docs must be a non-empty list of documents (dicts with doc_id, title, type and text)")
    for i, d in enumerate(docs):
        missing = [key for key in ("doc_id", "text") if key not in d]
        if missing:
            raise ValueError(f"document {i} has no {', '.join(missing)}; each needs doc_id and text")
        if not str(d["text"]).strip():
            raise ValueError(f"document {d['doc_id']!r} has an empty text")


def chunk_fixed(docs: Sequence[dict], tokenizer, size: int = 48, overlap: int = 16) -> list[Chunk]:
    """Windows of ``size`` tokens of the course tokenizer, each starting ``size - overlap`` after the previous."""
    _check_docs(docs)
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"need size >= 1 and 0 <= overlap < size, got size={size}, overlap={overlap}")
    chunks = []
    for d in docs:
        ids = tokenizer(d["text"], add_special_tokens=False)["input_ids"]
        starts = list(range(0, max(len(ids) - overlap, 1), size - overlap))
        for n, start in enumerate(starts):
            end = min(start + size, len(ids))
            text = tokenizer.decode(ids[start:end]).strip()
            chunks.append(Chunk(f"{d['doc_id']}#{n}", d["doc_id"], d.get("title", ""), d.get("type", ""),
                                text, start, end))
    return chunks


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z$0-9])")  # "$1.25 million" has no space after its dot


def split_sentences(text: str) -> list[str]:
    """Sentences of a text: split after . ! ? followed by a space and a capital, digit or $."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def chunk_sentences(docs: Sequence[dict], tokenizer, max_tokens: int = 48) -> list[Chunk]:
    """Whole sentences packed greedily into chunks of at most ``max_tokens`` (a longer sentence stays whole)."""
    _check_docs(docs)
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    chunks = []
    for d in docs:
        sentences = split_sentences(d["text"])
        lengths = [len(tokenizer(" " + s, add_special_tokens=False)["input_ids"]) for s in sentences]
        groups: list[list[int]] = [[]]
        for i, n in enumerate(lengths):
            if groups[-1] and sum(lengths[j] for j in groups[-1]) + n > max_tokens:
                groups.append([])
            groups[-1].append(i)
        for n, group in enumerate(groups):
            text = " ".join(sentences[i] for i in group)
            chunks.append(Chunk(f"{d['doc_id']}#{n}", d["doc_id"], d.get("title", ""), d.get("type", ""),
                                text, group[0], group[-1] + 1))
    return chunks


def chunk_documents(docs: Sequence[dict]) -> list[Chunk]:
    """One chunk per document, unchanged (the baseline: our documents are short)."""
    _check_docs(docs)
    return [Chunk(f"{d['doc_id']}#0", d["doc_id"], d.get("title", ""), d.get("type", ""), d["text"], 0, 1)
            for d in docs]
