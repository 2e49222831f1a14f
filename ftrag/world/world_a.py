"""World A: the public world the course model is pretrained on (people, places, organisations, festivals).

``generate(data_dir)`` writes ``data/world_a/``: the two-phase pretraining curriculum (``phase1.txt.xz``,
``phase2.txt.xz``), held-out text for perplexity (``heldout.txt``), reading comprehension about people never seen
in pretraining (``rc_test.jsonl``) and famous facts the model should know without a passage (``closed_book.jsonl``).

The design follows what a spike measured (docs/COURSE_DESIGN.md): a small model learns to copy answers out of a
passage only with one example per training row, a curriculum (short passages first), every fact type in several
phrasings, sentences in varied order, and passages that name their subject clearly (a title, the full name in
most sentences) so that distractor passages about other people can be told apart by name.
"""


from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from ftrag.files import XZ_PRESET, write_text
from ftrag.world import memos, records, world_b
from ftrag.world import vocab_a as V
from ftrag.world.a_templates import BORN_BOTH, CLOSED_BOOK, RELATIONS, STORIES, TITLES

FORBIDDEN_CHARS = set('{}[]"')
PHASE1_CHARS = 10_000_000  # ~2.5M tokens at scale 1.0 (about 4 characters a token)
PHASE2_CHARS = 40_000_000  # ~10M tokens
MAX_EXAMPLE_CHARS = 1800  # ~450 tokens: an example must fit the 512-token context whole, answers included
N_RC_TEST, N_HELDOUT, N_TEST_NAMES = 750, 300, 4000


def _an(word: str) -> str:
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


@dataclass
class Entity:
    kind: str  # a key of RELATIONS
    name: str  # as written in a sentence, e.g. "Anna Berg" or "the Riverlight Festival"
    facts: dict[str, str] = field(default_factory=dict)
    female: bool = False


class World:
    """The fixed facts of World A (drawn once from the seed) and samplers for ordinary people."""

    def __init__(self, seed: int):
        rng = random.Random(f"world-a-{seed}")
        all_names = sorted({(f, last, True) for f in V.FEMALE_FIRST for last in V.LAST}
                           | {(m, last, False) for m in V.MALE_FIRST for last in V.LAST})
        rng.shuffle(all_names)
        # People of rc_test and heldout.txt: their full names never occur in pretraining.
        self.test_names = all_names[:N_TEST_NAMES]
        self.train_names = all_names[N_TEST_NAMES:]
        cities = sorted(V.CITIES)
        rng.shuffle(cities)
        self.countries = [Entity("country", c, {"capital": cities[i], "river": rng.choice(V.RIVERS),
                                                "dish": rng.choice(V.FOODS), "animal": rng.choice(V.ANIMALS)})
                          for i, c in enumerate(V.COUNTRIES)]
        capital_of = {e.facts["capital"]: e.name for e in self.countries}
        self.cities = [Entity("city", c, {"country": capital_of.get(c) or rng.choice(V.COUNTRIES),
                                          "river": rng.choice(V.RIVERS), "founded": str(rng.randint(900, 1800)),
                                          "sight": rng.choice(V.CITY_SIGHTS),
                                          "population": str(rng.randint(2, 900) * 1000)}) for c in cities]
        # Famous people and founders are ordinary names taken out of the pool, so no one else shares them.
        self.famous = [self._person(rng, famous=True) for _ in range(24)]
        self.orgs = [Entity("organisation", name, {"kind": kind, "known_for": known, "city": rng.choice(cities),
                                                   "founded": str(rng.randint(1700, 1990)),
                                                   "founder": self._person(rng).name,
                                                   "workers": str(rng.randint(2, 90) * 10)})
                     for name, kind, known in V.ORGANISATIONS]
        self.events = [Entity("event", "the " + name, {"city": rng.choice(cities), "month": rng.choice(V.MONTHS),
                                                       "activity": activity,
                                                       "first_year": str(rng.randint(1500, 1950))})
                       for name, activity in V.EVENTS]
        self.fixed = {"country": self.countries, "city": self.cities, "organisation": self.orgs,
                      "event": self.events, "famous": self.famous}
        # Names no made-up training person may carry (a hard negative below splices two names together).
        self.blocked = {f"{f} {last}" for f, last, _ in self.test_names} | {e.name for e in self.famous}
        self.blocked |= {e.facts["founder"] for e in self.orgs}

    def _person(self, rng: random.Random, famous: bool = False, names: list | None = None) -> Entity:
        """A person with random facts; famous people and founders are removed from the name pool."""
        if names is None:
            first, last, female = self.train_names.pop(rng.randrange(len(self.train_names)))
        else:
            first, last, female = rng.choice(names)
        facts = {"birth_city": rng.choice(V.CITIES), "birth_year": str(rng.randint(1900 if famous else 1930, 2005)),
                 "profession": rng.choice(V.FAMOUS_PROFESSIONS if famous else V.PROFESSIONS),
                 "employer": rng.choice(V.ORGANISATIONS)[0],
                 "home_city": rng.choice(V.CITIES), "hobby": rng.choice(V.HOBBIES), "food": rng.choice(V.FOODS),
                 "pet": rng.choice(V.PETS)}
        return Entity("person", f"{first} {last}", facts, female)

    def person(self, rng: random.Random, test: bool = False) -> Entity:
        return self._person(rng, names=self.test_names if test else self.train_names)

    def entity(self, rng: random.Random, kind: str) -> Entity:
        """A random entity of one kind: a fresh ordinary person (or a famous one), or a fixed place/org/event."""
        if kind == "person":
            return rng.choice(self.famous) if rng.random() < 0.1 else self.person(rng)
        return rng.choice(self.fixed[kind])

    def others(self, rng: random.Random, gold: Entity, n: int, test: bool = False) -> list[Entity]:
        """n distractors: other entities of the gold's kind (never the gold's name)."""
        out: list[Entity] = []
        while len(out) < n:
            e = self.person(rng, test) if gold.kind == "person" else rng.choice(self.fixed[gold.kind])
            if gold.kind == "person" and not test and rng.random() < 0.15:
                # A hard negative: same first or last name, so the model must read the full name.
                (first, last), (gold_first, gold_last) = e.name.split(), gold.name.split()
                if rng.random() < 0.5:
                    e.name, e.female = f"{gold_first} {last}", gold.female
                else:
                    e.name = f"{first} {gold_last}"
                if e.name in self.blocked:
                    continue
            if e.name in [gold.name] + [o.name for o in out]:
                continue
            if test and set(e.name.split()) & set(gold.name.split()):
                continue
            out.append(e)
        return out


def sentence(rng: random.Random, e: Entity, rel: str, pronoun: bool = False) -> str:
    """One statement of a fact, in a random phrasing."""
    tmpl = rng.choice(RELATIONS[e.kind][rel][0])
    n, s = e.name, e.name + "'s"
    if pronoun and tmpl.startswith(("{n}", "{s}")):  # a pronoun only where it opens the sentence
        n, s = ("she", "her") if e.female else ("he", "his")
    a = e.facts[rel]
    return _cap(tmpl.format(n=n, s=s, a=a, an=_an(a), k=_an(e.facts.get("kind", "x")), y=e.facts.get("birth_year")))


def question(rng: random.Random, e: Entity, rel: str) -> tuple[str, str]:
    return _cap(rng.choice(RELATIONS[e.kind][rel][1]).format(n=e.name, s=e.name + "'s")), e.facts[rel]


def passage(rng: random.Random, e: Entity, rels: list[str], title_p: float) -> str:
    """The facts rels of e in random order; the full name opens it and most sentences name the subject."""
    rels = rng.sample(rels, len(rels))
    both = e.kind == "person" and "birth_year" in rels and "birth_city" in rels and rng.random() < 0.3
    if both:  # one sentence then states the birth city and the year
        rels.remove("birth_year")
    out = [_cap(rng.choice(TITLES).format(n=e.name))] if rng.random() < title_p else []
    for i, rel in enumerate(rels):
        if both and rel == "birth_city":
            out.append(rng.choice(BORN_BOTH).format(n=e.name, a=e.facts[rel], y=e.facts["birth_year"]))
        else:  # the first sentence names the subject in full; a later one may say "she" or "he"
            out.append(sentence(rng, e, rel, pronoun=e.kind == "person" and i > 0 and rng.random() < 0.2))
    return " ".join(out)


def rc_example(passages: list[str], qas: list[tuple[str, str]]) -> str:
    return "\n".join([f"Passage: {p}" for p in passages] + [f"Question: {q}\nAnswer: {a}" for q, a in qas])


def rc(rng: random.Random, gold: Entity, others: list[Entity], rels: list[str], title_p: float) -> str:
    """A reading-comprehension example; half ask one question, the rest several facts of the gold in turn.

    Passages that do not fit MAX_EXAMPLE_CHARS lose questions first, then distractors (never the gold).
    """
    ents = list(others)
    ents.insert(rng.randint(0, len(others)), gold)
    texts = [passage(rng, e, rels, title_p) for e in ents]
    order = rng.sample(rels, len(rels))
    r = rng.random()
    asked = order[:1] if r < 0.5 or len(order) == 1 else order if r < 0.8 else order[:rng.randint(2, len(order))]
    targets = [gold] * len(asked)
    if others and len(asked) > 1 and rng.random() < 0.25:
        # Sometimes a later question is about another passage, so "the passage of the last answer" is no shortcut.
        targets = [gold] + [rng.choice(ents) for _ in asked[1:]]
    qas = [question(rng, e, rel) for e, rel in zip(targets, asked, strict=True)]
    while len(rc_example(texts, qas)) > MAX_EXAMPLE_CHARS and len(qas) > 1:
        qas.pop()
    while len(rc_example(texts, qas)) > MAX_EXAMPLE_CHARS:  # the first question is always about the gold
        drop = next(i for i, e in enumerate(ents) if e is not gold)
        texts.pop(drop)
        ents.pop(drop)
    return rc_example(texts, qas)


def short_rc(rng: random.Random, w: World) -> str:
    """Phase 1: a one-to-two-sentence passage (sometimes with one distractor) and its questions."""
    kind = "person" if rng.random() < 0.7 else rng.choice(["city", "country", "organisation", "event"])
    gold = w.entity(rng, kind)
    rels = rng.sample(sorted(RELATIONS[kind]), rng.choice([1, 2, 2]))
    return rc(rng, gold, w.others(rng, gold, 1 if rng.random() < 0.25 else 0), rels, title_p=0.15)


def long_rc(rng: random.Random, w: World) -> str:
    """Phase 2: a biography (or place, organisation, festival) among 0-4 passages about others of its kind."""
    kind = rng.choices(["person", "city", "country", "organisation", "event"], [75, 7, 5, 8, 5])[0]
    gold = w.entity(rng, kind)
    rels = sorted(RELATIONS[kind])
    rels = rng.sample(rels, rng.randint(4, 7)) if kind == "person" else rng.sample(rels, rng.randint(3, len(rels)))
    return rc(rng, gold, w.others(rng, gold, rng.randint(0, 4)), rels, title_p=0.8)


def closed_book(rng: random.Random, w: World) -> str:
    """Questions about famous facts without a passage; half of them from the closed-book test set."""
    qas = []
    for _ in range(rng.randint(1, 4)):
        kind, rel = rng.choice(CLOSED_BOOK) if rng.random() < 0.5 else (rng.choice(sorted(w.fixed)), None)
        e = rng.choice(w.fixed[kind])
        qas.append(question(rng, e, rel or rng.choice(sorted(RELATIONS[e.kind]))))
    return rc_example([], qas)


def story(rng: random.Random, w: World, test: bool = False, sentences: int = 0) -> str:
    """A simple everyday story; sentences > 0 keeps only its opening sentences."""
    me, friend, famous = w.person(rng, test), w.person(rng, test), rng.choice(w.famous)
    country, org, event, city = (rng.choice(w.fixed[k]) for k in ("country", "organisation", "event", "city"))
    slots = dict(n=me.name, p="she" if me.female else "he", P="She" if me.female else "He",
                 pp="her" if me.female else "his", home=me.facts["home_city"], food=me.facts["food"],
                 hobby=me.facts["hobby"], pet=me.facts["pet"], prof=_an(me.facts["profession"]), f=friend.name,
                 fprof=_an(friend.facts["profession"]), month=event.facts["month"], event=event.name,
                 ecity=event.facts["city"], activity=event.facts["activity"], capital=country.facts["capital"],
                 country=country.name, org=org.name, ocity=org.facts["city"], oknown=org.facts["known_for"],
                 famous=famous.name, fprof2=famous.facts["profession"], fprof2a=_an(famous.facts["profession"]),
                 fcity=famous.facts["birth_city"], city=city.name, river=city.facts["river"], sight=city.facts["sight"])
    text = rng.choice(STORIES).format(**slots)
    text = ". ".join(_cap(s) for s in text.split(". "))
    return text if not sentences else ". ".join(text.split(". ")[:sentences]).rstrip(".") + "."


def plain(rng: random.Random, w: World, test: bool = False) -> str:
    """A description without questions: mostly a biography, sometimes a place, organisation or festival."""
    kind = "person" if test or rng.random() < 0.7 else rng.choice(["city", "country", "organisation", "event"])
    e = w.person(rng, test) if test else w.entity(rng, kind)
    rels = sorted(RELATIONS[kind])
    return passage(rng, e, rng.sample(rels, rng.randint(min(4, len(rels)), len(rels))), title_p=0.5)


def short_text(rng: random.Random, w: World) -> str:
    """Phase 1 plain text: one to three facts, or the opening of a story."""
    if rng.random() < 0.35:
        return story(rng, w, sentences=rng.randint(2, 3))
    kind = "person" if rng.random() < 0.5 else rng.choice(sorted(w.fixed))
    e = w.person(rng) if kind == "person" else rng.choice(w.fixed[kind])
    return passage(rng, e, rng.sample(sorted(RELATIONS[e.kind]), rng.randint(1, 3)), title_p=0.1)


def _corpus(rng: random.Random, w: World, mix: dict, target_chars: int) -> list[str]:
    makers, weights = list(mix), list(mix.values())
    out, total = [], 0
    while total < target_chars:
        text = rng.choices(makers, weights)[0](rng, w)
        out.append(text)
        total += len(text) + 2
    return out


def rc_test_rows(rng: random.Random, w: World, names: list) -> list[dict]:
    """Reading comprehension on unseen people: n = 0..4 distractors equally often, one question each."""
    ns = [i % 5 for i in range(N_RC_TEST)]
    rng.shuffle(ns)
    rows = []
    for i, n in enumerate(ns):
        gold = w._person(rng, names=names[i:i + 1])
        rels = rng.sample(sorted(RELATIONS["person"]), rng.randint(4, 7))
        others = w.others(rng, gold, n, test=True)
        ents = list(others)
        pos = rng.randint(0, n)
        ents.insert(pos, gold)
        q, a = question(rng, gold, rng.choice(rels))
        rows.append({"id": f"rc-{i:04d}", "passages": [passage(rng, e, rels, title_p=0.8) for e in ents],
                     "gold": pos, "question": q, "answer": a, "kind": "person"})
    return rows


def _write_text(path: Path, examples: list[str], xz_preset: int = XZ_PRESET) -> dict:
    text = "\n\n".join(examples) + "\n"
    bad = FORBIDDEN_CHARS & set(text)
    if bad or any("\n\n" in x for x in examples):
        raise ValueError(f"World A text in {path.name} breaks the format: {bad or 'blank line in an example'}")
    write_text(path, text, xz_preset=xz_preset)
    return {"examples": len(examples), "characters": len(text), "approx_tokens": len(text) // 4}


def _write_jsonl(path: Path, rows: list[dict]) -> dict:
    text = "".join(json.dumps(r, ensure_ascii=True) + "\n" for r in rows)
    if any(FORBIDDEN_CHARS & set(str(v)) for r in rows for v in r.values() if not isinstance(v, list)):
        raise ValueError(f"a value in {path.name} holds one of {sorted(FORBIDDEN_CHARS)}")
    path.write_text(text, encoding="utf-8", newline="\n")
    return {"examples": len(rows), "characters": len(text), "approx_tokens": len(text) // 4}


def generate(out_dir: Path, seed: int = 1234, scale: float = 1.0, xz_preset: int = XZ_PRESET) -> dict:
    """Write World A into out_dir/world_a (byte-identical for the same seed and scale); return size stats.

    ``xz_preset`` compresses the two phases (a lower one is faster; the text is the same, the bytes are not).
    """
    if scale <= 0:
        raise ValueError(f"scale must be > 0 (1.0 is the full corpus), got {scale}")
    out = Path(out_dir) / "world_a"
    out.mkdir(parents=True, exist_ok=True)
    w = World(seed)
    # World() split the test people's names off the pool: each rc_test gold name is used once, the rest serve
    # as rc_test distractors and held-out people. Test files come first, from a random stream of their own.
    test_rng = random.Random(f"world-a-test-{seed}")
    test_names = list(w.test_names)
    test_rng.shuffle(test_names)
    w.test_names = test_names[N_RC_TEST:]  # distractors and held-out people; gold names are used once each
    stats = {"rc_test.jsonl": _write_jsonl(out / "rc_test.jsonl", rc_test_rows(test_rng, w, test_names))}
    held = [plain(test_rng, w, test=True) for _ in range(N_HELDOUT * 2 // 3)]
    held += [story(test_rng, w, test=True) for _ in range(N_HELDOUT - len(held))]
    stats["heldout.txt"] = _write_text(out / "heldout.txt", held)
    # Each closed-book question in its first phrasing, which training uses too (recall, not paraphrase, is tested).
    cb_rows = [{"question": _cap(RELATIONS[e.kind][rel][1][0].format(n=e.name, s=e.name + "'s")),
                "answer": e.facts[rel], "subject": e.name.removeprefix("the ")}
               for kind, rel in CLOSED_BOOK for e in w.fixed[kind]]
    stats["closed_book.jsonl"] = _write_jsonl(out / "closed_book.jsonl", cb_rows)
    # Records (records.py: documents of any kind about freshly invented things, with codes, prices, dates and
    # durations) teach reading rather than World A's templates; they are in both phases, so the tokenizer knows
    # their words and the model learns early to copy names it has never seen.
    namer = records.Namer(_banned_words())

    def short_record(r: random.Random, _w: World) -> str:
        return records.record_rc(r, namer, short=True)

    def record(r: random.Random, _w: World) -> str:
        return records.record_rc(r, namer)

    phase1 = {short_rc: 35, short_record: 25, closed_book: 12, short_text: 28}
    phase2 = {long_rc: 26, record: 38, short_rc: 12, short_record: 5, closed_book: 8, plain: 7, story: 4}
    for name, mix, chars in (("phase1.txt.xz", phase1, PHASE1_CHARS), ("phase2.txt.xz", phase2, PHASE2_CHARS)):
        rng = random.Random(f"world-a-{name}-{seed}")
        stats[name] = _write_text(out / name, _corpus(rng, w, mix, int(chars * scale)), xz_preset)
    return stats


def _banned_words() -> set[str]:
    """Every word of a World B name or a dialect term: invented record names must avoid them."""

    return {word for term in [*world_b.entity_names(), *memos.dialect_terms()] for word in term.lower().split()}
