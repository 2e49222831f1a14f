"""World B questions on which retrieval can fail: ``data/knowledge/hard_qa.jsonl`` (lesson 04, section 5).

Every question in ``qa.jsonl`` names its document's subject ("When did Incident INC-9060 occur?"), and the names
are rare invented words, so word matching finds the document almost always. Real questions often do not: they
describe the thing ("the incident that disrupted the Kolvena Ledger"), misspell its name, or need a second document
to find the first. Three sets, one question per document each, all asking for a span copied from a document:

- ``described``: the document's own lexical question with its subject replaced by a description made of the
  document's other facts, as few as identify it among the documents of its type ("When did the incident rated
  SEV-4 that disrupted the Kolvena Ledger occur?"); codes and phone extensions are never used to describe;
- ``misspelled``: the lexical question with one typo in the subject's name: two neighbouring letters (or digits)
  swapped, a letter dropped or doubled ("When did Incident INC-9600 occur?");
- ``two_hop``: a fact of document T asked through a document S that links to it ("What is the phone extension of
  the responder to Incident INC-9060?"): ``doc_id`` is T (which holds the answer and is never named),
  ``bridge_doc_id`` is S (named); a retriever must find both.

Each row has the fields of ``qa.jsonl`` (``doc_id`` is the document holding the answer) plus ``bridge_doc_id`` for
two-hop rows. The questions are built from World B's own documents by this seeded code; nothing is hand-written.
"""

from __future__ import annotations

import itertools
import random
import re
from typing import Protocol

from ftrag.world.b_templates import fill


class Doc(Protocol):
    """What this module reads of a ``ftrag.world.world_b.Doc`` (world_b imports this module, not the reverse)."""

    doc_id: str
    type: str
    title: str
    subject: str
    facts: list  # (Relation, value) pairs
    unit: str

HARD_KINDS = ("described", "misspelled", "two_hop")
NOUN = {"incident": "the incident", "people": "the employee", "team": "the team", "product": "the product",
        "policy": "the policy", "project": "the project"}
# How a fact describes its document: a participle or preposition after the noun ("pre") or a relative clause
# ("rel"). ``{v}`` is the value, ``{av}`` the value with its article, ``{unit}`` a policy's unit.
DESCRIBE = {
    "incident": {"date": ("pre", "on {v}"), "system": ("rel", "that disrupted the {v}"),
                 "duration": ("rel", "that lasted {v}"), "severity": ("pre", "rated {v}"),
                 "responder": ("pre", "worked by {v}")},
    "people": {"role": ("rel", "who works as {av}"), "team": ("pre", "in the {v}"), "site": ("pre", "based in {v}"),
               "start_year": ("rel", "who joined in {v}")},
    "team": {"lead": ("pre", "led by {v}"), "size": ("pre", "of {v} people"), "floor": ("pre", "on floor {v}"),
             "site": ("pre", "based in {v}")},
    "product": {"price": ("pre", "priced at {v}"), "launch": ("pre", "launched in {v}"),
                "owner": ("pre", "maintained by the {v}")},
    "policy": {"limit": ("pre", "with a limit of {v} {unit}"), "deadline": ("pre", "with a deadline of {v}"),
               "approver": ("rel", "whose exceptions {v} approves"), "effective": ("pre", "in force since {v}")},
    "project": {"owner": ("pre", "owned by {v}"), "budget": ("pre", "with a budget of {v}"),
                "launch": ("pre", "due in {v}"), "team": ("pre", "run by the {v}")},
}
# A link from document S to document T (a fact of S whose value is T's title), and how it names T through S.
BRIDGE = {("incident", "responder"): "the responder to {s}", ("project", "owner"): "the person accountable for {s}",
          ("project", "team"): "the team that runs {s}", ("product", "owner"): "the team that maintains {s}",
          ("team", "lead"): "the lead of {s}", ("people", "team"): "the team of {s}",
          ("policy", "approver"): "the person who approves exceptions to {s}"}
GENERIC_WORDS = {"Incident", "Team", "Policy", "Project", "INC", "the"}


def _describe(doc: Doc, relations: tuple[str, ...]) -> str:
    """``doc`` named by some of its facts: the noun, its participles and prepositions, then its relative clauses."""
    values = {rel.name: value for rel, value in doc.facts}
    parts: dict[str, list[str]] = {"pre": [], "rel": []}
    for r in relations:
        form, clause = DESCRIBE[doc.type][r]
        parts[form].append(fill(clause, "", values[r], doc.unit, capitalise=False))
    rel = parts["rel"][:1] + [c.split(" ", 1)[1] if c.split(" ", 1)[0] == parts["rel"][0].split(" ", 1)[0] else c
                              for c in parts["rel"][1:]]  # "that disrupted X and lasted 7 hours"
    return " ".join([NOUN[doc.type], *filter(None, (", ".join(parts["pre"]), " and ".join(rel)))])


def _unique_description(doc: Doc, asked: str, docs: list[Doc], rng: random.Random) -> str | None:
    """The shortest description of ``doc`` by its facts other than ``asked`` that no other document of its type also
    fits (None if there is none)."""
    values = {rel.name: value for rel, value in doc.facts}
    names = [r for r in DESCRIBE[doc.type] if r != asked]
    rng.shuffle(names)
    same_type = [dict((rel.name, v) for rel, v in d.facts) for d in docs if d.type == doc.type and d is not doc]
    for size in (1, 2, 3):
        for combo in itertools.combinations(names, size):
            if not any(all(other[r] == values[r] for r in combo) for other in same_type):
                return _describe(doc, tuple(sorted(combo, key=list(DESCRIBE[doc.type]).index)))
    return None


def _typo(word: str, rng: random.Random) -> str:
    """One realistic typo inside ``word``: neighbours swapped, a letter dropped or doubled (first letter kept)."""
    inner = [i for i in range(1, len(word) - 1) if word[i] != word[i + 1]]
    if not inner:
        raise ValueError(f"{word!r} has no two different neighbouring characters after its first to swap")
    edits = ["swap", "drop", "double"] if word.isalpha() else ["swap"]
    edit = rng.choice(edits)
    i = rng.choice(inner)
    if edit == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if edit == "drop":
        return word[:i] + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def _misspell(subject: str, taken: set[str], rng: random.Random) -> str:
    words = [w for w in re.findall(r"[A-Za-z]+|\d+", subject) if w not in GENERIC_WORDS and len(w) >= 4]
    word = rng.choice(words)
    for _ in range(50):
        wrong = _typo(word, rng)
        if wrong != word and wrong not in taken:
            return subject.replace(word, wrong, 1)
    raise ValueError(f"no typo of {word!r} avoids every other name")


def hard_questions(docs: list[Doc], choices: dict[str, list[int]], seed: int) -> list[dict]:
    """The three hard sets (see the module's docstring), one question per document in each, seeded."""
    rng = random.Random(seed)
    by_title = {d.title: d for d in docs}
    taken = {w for d in docs for w in re.findall(r"[A-Za-z]+|\d+", d.title)}
    rows: list[dict] = []

    def row(doc: Doc, i: int, question: str, kind: str, **extra) -> dict:
        rel, value = doc.facts[i]
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", question):
            raise ValueError(f"{doc.doc_id}: the {kind} question {question!r} contains its answer")
        fact_id = f"{doc.doc_id}-{rel.name}"
        via = f"-via-{extra['bridge_doc_id']}" if extra else ""
        return {"id": f"{fact_id}-{kind}{via}", "question": question, "answer": value, "doc_id": doc.doc_id,
                "fact_id": fact_id, "kind": kind, "answer_type": rel.answer_type, **extra}

    def lexical(doc: Doc, i: int, subject: str) -> str:
        return fill(doc.facts[i][0].variants[choices[doc.doc_id][i]][1], subject, unit=doc.unit)

    for doc in docs:
        for i in rng.sample(range(len(doc.facts)), len(doc.facts)):  # a fact whose siblings identify the doc
            description = _unique_description(doc, doc.facts[i][0].name, docs, rng)
            if description:
                break
        else:
            raise ValueError(f"{doc.doc_id}: no combination of its facts identifies it among the {doc.type} documents")
        rows.append(row(doc, i, lexical(doc, i, description), "described"))
        i = rng.randrange(len(doc.facts))
        rows.append(row(doc, i, lexical(doc, i, _misspell(doc.subject, taken, rng)), "misspelled"))
        links = [(rel.name, by_title[value]) for rel, value in doc.facts if (doc.type, rel.name) in BRIDGE]
        name, target = rng.choice(links)
        through = BRIDGE[(doc.type, name)].format(s=doc.subject)
        options = [j for j, (_, value) in enumerate(target.facts) if value not in through and value != doc.title]
        j = rng.choice(options)
        rows.append(row(target, j, lexical(target, j, through), "two_hop", bridge_doc_id=doc.doc_id))
    return rows
