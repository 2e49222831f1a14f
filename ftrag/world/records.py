"""World A "records": short factual documents about made-up things, for learning to read any document.

Phases 1 and 2 teach the course model to answer from biographies, places, organisations and festivals. A model
trained on those alone learns to copy *those* templates, not to read: shown a document of another kind (a price
list, an incident report) it answers with a World A name. Phase 3 ("continued pretraining", see
``ftrag.pretrain``) therefore mixes in records: documents about freshly invented people, things, groups, events
and rules, each stating 3 to 6 attributes in open-ended wording, with 0 to 4 distractor records of the same
kind, and questions whose answer must be copied out of the right record: invented names, codes, prices, dates,
durations, numbers, job titles.

About half the records are worded with the sentence frames of the company's knowledge base (World B's
relation templates: "{s} took down the {v}.", "Which system did {s} affect?"), filled with invented World A names
and values, so that the model knows that everyday business English the way any language model would. It never
sees a World B name, value or fact: those are what lessons 04 and 05 retrieve or teach.

Every name is drawn fresh for each record from syllables of this module, so nothing can be memorised; a word
that is part of any World B name or dialect term is rejected when drawn (the separation tests grep the corpus).
No record holds a ``{ } [ ] "`` character.
"""


from __future__ import annotations

import random

from ftrag.world.b_templates import RELATIONS as B_RELATIONS
from ftrag.world.record_words import (
    ATTRS,
    CASE_WORDS,
    ENDINGS,
    EVENT_NOUNS,
    GENERIC_QUESTIONS,
    GENERIC_STATEMENTS,
    GROUP_NOUNS,
    MIDDLES,
    MONTHS,
    NUCLEI,
    ONSETS,
    ROLE_FIRST,
    ROLE_SECOND,
    RULE_NOUNS,
    THING_NOUNS,
    TYPED_QUESTIONS,
    UNITS,
    VERBS,
    WORDS,
)


class Namer:
    """Fresh invented words; none is a word of a World B name or a dialect term."""

    def __init__(self, banned: set[str]):
        self.banned = {w.lower() for w in banned}

    def word(self, rng: random.Random, lo: int = 4, hi: int = 10) -> str:
        while True:
            w = rng.choice(ONSETS) + rng.choice(NUCLEI) + rng.choice(MIDDLES) + rng.choice(ENDINGS)
            if rng.random() < 0.3:
                w += rng.choice(MIDDLES) + rng.choice(ENDINGS)
            if lo <= len(w) <= hi and w not in self.banned:
                return w.capitalize()


def _code(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(rng.choice([1, 2, 2, 3, 3, 4])))
    digits = str(rng.randint(1, 99999)).zfill(rng.choice([2, 3, 4, 4]))
    return f"{letters}-{digits}" + (f"-{rng.choice('ABCDEFGH')}" if rng.random() < 0.1 else "")


def _money(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.15:
        return f"${rng.randint(1, 99)}.{rng.randint(1, 9)}{rng.choice(['', rng.randint(0, 9)])} million"
    if r < 0.3:
        return f"${rng.randint(1, 99) * 50:,}"
    return f"${rng.randint(1, 10 ** rng.randint(2, 6)):,}"


def value(rng: random.Random, kind: str, namer: Namer) -> str:
    """A random value of one type (the answer text exactly as the document states it)."""
    if kind == "person":
        return f"{namer.word(rng)} {namer.word(rng)}"
    if kind == "place":
        return namer.word(rng, 5, 10)
    if kind == "group":
        return f"{namer.word(rng)} {rng.choice(GROUP_NOUNS)}"
    if kind == "thing":
        return f"{namer.word(rng)} {rng.choice(THING_NOUNS)}"
    if kind == "role":
        # An invented first word a third of the time: a title must be copied, not completed from the lists.
        first = namer.word(rng) if rng.random() < 0.35 else rng.choice(ROLE_FIRST)
        return f"{first} {rng.choice(ROLE_SECOND)}"
    if kind == "year":
        return str(rng.randint(1950, 2030))
    if kind == "date":
        return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}, {rng.randint(1990, 2030)}"
    if kind == "month":
        return f"{rng.choice(MONTHS)} {rng.randint(1990, 2030)}"
    if kind == "number":
        return str(rng.choice([rng.randint(1, 9), rng.randint(10, 99), rng.randint(100, 999),
                               rng.randint(1000, 9999)]))
    if kind == "code":
        return _code(rng)
    if kind == "money":
        return _money(rng)
    if kind == "duration":
        unit = rng.choice(UNITS)
        n = rng.randint(2, 90)
        return f"{n} {unit}"
    if kind == "word":
        return rng.choice(WORDS[rng.choice(sorted(WORDS))])
    raise ValueError(kind)


def subject(rng: random.Random, kind: str, namer: Namer, noun: str) -> str:
    """The name a record is about; noun keeps the distractors of one record the same sort of thing."""
    if kind == "person":
        return f"{namer.word(rng)} {namer.word(rng)}"
    if kind == "event" and noun in CASE_WORDS:
        return f"{noun} {_code(rng)}"
    if kind == "rule" and rng.random() < 0.3:
        return f"{noun} {_code(rng)}"
    return f"the {namer.word(rng)} {noun}"


def _fill(template: str, e: str, v: str, a: str = "") -> str:
    text = template.format(E=e, Es=e + "'s", V=v, a=a)
    return text[0].upper() + text[1:]


def _frames(rng: random.Random, kind: str, n: int) -> list[tuple]:
    """n facts to state: (value type, attribute noun or None, statement, question) with fixed wordings."""
    pool = []
    for vtype, attrs in ATTRS[kind].items():
        for a in attrs:
            pool.append((vtype, a, None))
        for st, q, who in VERBS.get(vtype, []):
            if not who or (who == "P") == (kind == "person"):
                pool.append((vtype, None, (st, q)))
    out, used = [], set()
    for vtype, a, verb in rng.sample(pool, len(pool)):
        key = a or verb[0]
        if key in used or sum(1 for f in out if f[0] == vtype) >= 2:
            continue
        used.add(key)
        if verb:
            out.append((vtype, None, verb[0], verb[1]))
        else:
            qs = GENERIC_QUESTIONS + TYPED_QUESTIONS.get(vtype, []) * 2
            out.append((vtype, a, rng.choice(GENERIC_STATEMENTS), rng.choice(qs)))
        if len(out) == n:
            break
    return out


def record_rc(rng: random.Random, namer: Namer, short: bool = False) -> str:
    """Some records about things of one kind (one of them the gold) and 1-3 questions answered from them.

    short (phase 1): one record of 1-3 facts, at most one distractor record.
    """
    if rng.random() < B_SHARE:
        return record_rc_b(rng, namer, short)
    kind = rng.choices(["person", "thing", "group", "event", "rule"], [30, 25, 15, 15, 15])[0]
    noun = {"thing": THING_NOUNS, "group": GROUP_NOUNS, "event": EVENT_NOUNS + CASE_WORDS,
            "rule": RULE_NOUNS}.get(kind, ["-"])
    noun = rng.choice(noun)
    n_facts = rng.randint(1, 3) if short else rng.randint(2, 6)
    n_docs = 1 + (int(rng.random() < 0.25) if short else rng.choice([0, 0, 1, 1, 2, 3, 4]))
    while n_docs > 1 and n_docs * n_facts > 20:
        n_docs -= 1
    frames = _frames(rng, kind, n_facts)
    docs = []
    for _ in range(n_docs):
        e = subject(rng, kind, namer, noun if rng.random() < 0.8 else rng.choice([noun, *noun.split()]))
        facts = [value(rng, f[0], namer) for f in frames]
        docs.append((e, facts))
    names = [e for e, _ in docs]
    if len(set(names)) < len(names):
        return record_rc(rng, namer, short)
    texts = []
    for e, facts in docs:
        order = rng.sample(range(len(frames)), len(frames))
        sents = [_fill(frames[i][2], e, facts[i], frames[i][1] or "") for i in order]
        title = []
        if rng.random() < 0.4:
            title = [_fill(rng.choice(["{E}.", "About {E}.", "Record of {E}.", "Notes on {E}."]), e, "")]
        texts.append(" ".join(title + sents))
    qas = []
    shown = rng.sample(texts, len(texts))  # the record asked about can be anywhere
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        d = 0 if rng.random() < 0.75 else rng.randrange(n_docs)
        i = rng.randrange(len(frames))
        e, facts = docs[d]
        qas.append((_fill(frames[i][3], e, "", frames[i][1] or ""), facts[i]))
    return "\n".join([f"Passage: {t}" for t in shown] + [f"Question: {q}\nAnswer: {a}" for q, a in qas])


# The knowledge base's kinds of document as record subjects, and its answer types as record value types.
B_SUBJECTS = {"people": "person", "team": "group", "product": "thing", "policy": "rule", "project": "project",
              "incident": "event"}
B_VALUES = {"role": "role", "team": "group", "site": "place", "year": "year", "extension": "extension",
            "person": "person", "headcount": "number", "floor": "floor", "product_code": "code", "price": "money",
            "month": "month", "policy_code": "code", "days": "days", "date": "date", "budget": "money",
            "system": "thing", "duration": "duration", "severity": "severity"}
B_UNITS = ["per trip", "per day", "per night", "per year", "per event", "per request", "per month", "per move",
           "per gift", "per quarter", "per licence", "per person", "per ride", "per exam", "per course",
           "per guest", "per visit", "per week"]
B_SHARE = 0.5  # of records worded with the knowledge base's frames
COMPANY = "Quorvenex"  # World B's company: replaced by an invented name in every record


def _b_value(rng: random.Random, vtype: str, namer: Namer) -> str:
    if vtype == "extension":
        return str(rng.randint(1000, 9999))
    if vtype == "floor":
        return str(rng.randint(1, 30))
    if vtype == "days":
        return f"{rng.randint(2, 90)} days"
    if vtype == "severity":
        return f"{rng.choice(['SEV', 'P', 'LVL', 'TIER', 'GRADE', 'SEV', 'CAT'])}-{rng.randint(0, 5)}"
    if vtype == "group":
        return f"{namer.word(rng)} {rng.choice(['Team'] * 4 + GROUP_NOUNS)}"
    return value(rng, vtype, namer)


def _b_subject(rng: random.Random, kind: str, namer: Namer, noun: str) -> str:
    if kind == "project":
        return f"{noun} {namer.word(rng)}"
    if kind == "rule":
        return f"the {namer.word(rng)} {noun}"
    return subject(rng, kind, namer, noun)


def _b_fill(template: str, e: str, v: str, company: str, unit: str) -> str:
    article = "an" if v[:1].lower() in "aeiou" else "a"
    text = template.replace(COMPANY, company).format(s=e, v=v, av=f"{article} {v}", unit=unit)
    return text[0].upper() + text[1:]


def record_rc_b(rng: random.Random, namer: Namer, short: bool = False) -> str:
    """Like record_rc, worded with the knowledge base's sentence frames; questions reuse the document's wording,
    another frame's wording, or none of its content words."""
    group = rng.choice(sorted(B_RELATIONS))
    kind = B_SUBJECTS[group]
    noun = {"thing": THING_NOUNS, "group": ["Team"] * 4 + GROUP_NOUNS, "event": ["Incident"] * 3 + CASE_WORDS,
            "rule": ["Policy"] * 3 + RULE_NOUNS, "project": ["Project"] * 3 + ["Programme", "Initiative"]}
    noun = rng.choice(noun.get(kind, ["-"]))
    rels = B_RELATIONS[group]
    n_facts = rng.randint(1, min(3, len(rels))) if short else rng.randint(2, len(rels))
    n_docs = 1 + (int(rng.random() < 0.25) if short else rng.choice([0, 0, 1, 1, 2, 3]))
    chosen = rng.sample(rels, n_facts)
    company = namer.word(rng)
    docs = []
    for _ in range(n_docs):
        e = _b_subject(rng, kind, namer, noun)
        unit = rng.choice(B_UNITS)
        facts = [_b_value(rng, B_VALUES[r.answer_type], namer) for r in chosen]
        variants = [rng.randrange(len(r.variants)) for r in chosen]
        docs.append((e, unit, facts, variants))
    if len({d[0] for d in docs}) < len(docs):
        return record_rc_b(rng, namer, short)
    texts = []
    for e, unit, facts, variants in docs:
        order = rng.sample(range(n_facts), n_facts)
        texts.append(" ".join(_b_fill(chosen[i].variants[variants[i]][0], e, facts[i], company, unit)
                              for i in order))
    qas = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        d = 0 if rng.random() < 0.75 else rng.randrange(n_docs)
        i = rng.randrange(n_facts)
        e, unit, facts, variants = docs[d]
        r = rng.random()
        if r < 0.6:
            q = chosen[i].variants[variants[i]][1]
        elif r < 0.8:
            q = rng.choice(chosen[i].variants)[1]
        else:
            q = rng.choice(chosen[i].paraphrased)
        qas.append((_b_fill(q, e, "", company, unit), facts[i]))
    shown = rng.sample(texts, len(texts))
    return "\n".join([f"Passage: {t}" for t in shown] + [f"Question: {q}\nAnswer: {a}" for q, a in qas])
