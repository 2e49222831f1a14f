"""World B: the internal knowledge base of Quorvenex, a fictional company the course model never sees in pretraining.

``generate(data_dir)`` writes ``data/knowledge/``:

- ``docs.jsonl``: one document per person, team, product, policy, project and incident, one line each, every
  sentence naming its subject and stating one fact;
- ``facts.jsonl``: every fact (subject, relation, value, answer type for drawing multiple-choice distractors);
- ``qa.jsonl``: two questions per fact, one *lexical* (reuses the document's words) and one *paraphrased* (only
  the subject's name in common with the document); answers are spans copied verbatim from the document;
- ``paraphrases.jsonl``: ten renderings of every document (k = 1 is the original), for fine-tuning facts in;
- ``hard_qa.jsonl``: questions on which retrieval can fail (described, misspelled, two-hop; ``ftrag.world.b_hard``).

Everything is seeded, so two runs write byte-identical files. Lessons 04 and 05 use it for RAG and fine-tuning.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ftrag.world.b_hard import hard_questions
from ftrag.world.b_names import invented_words
from ftrag.world.b_templates import LEMMAS, RELATIONS, STOPWORDS, Relation, fill

SEED = 2024
COMPANY = "Quorvenex"
N_DOCS = {"people": 40, "team": 24, "product": 28, "policy": 24, "project": 24, "incident": 24}
N_PARAPHRASES = 10
FORBIDDEN_CHARS = set('{}[]"')

ROLES = ["Payroll Specialist", "Data Analyst", "Site Reliability Engineer", "Product Manager", "Security Engineer",
         "Technical Writer", "Procurement Officer", "Support Engineer", "Finance Controller", "Design Lead",
         "Backend Developer", "Facilities Coordinator", "Recruiter", "Test Engineer", "Network Administrator",
         "Legal Counsel", "Sales Director", "Account Executive", "Marketing Analyst", "Database Administrator",
         "Release Manager", "Hardware Engineer", "Firmware Developer", "Research Scientist", "Operations Manager",
         "Training Coordinator", "Quality Auditor", "Frontend Developer", "Solutions Architect",
         "Office Administrator"]
PRODUCT_NOUNS = ["Relay", "Beacon", "Console", "Sensor", "Vault", "Bridge", "Tracker", "Scanner", "Dock", "Router",
                 "Panel", "Meter", "Lens", "Switch", "Hub", "Gauge"]
SYSTEM_NOUNS = ["Gateway", "Ledger", "Queue", "Cache", "Scheduler", "Mailer", "Index", "Portal", "Archive",
                "Broker", "Registry", "Vault"]
# Policy topic and the unit its limit is counted in.
POLICIES = [("Travel", "per trip"), ("Meal", "per day"), ("Hotel", "per night"), ("Training", "per year"),
            ("Conference", "per event"), ("Home Office", "per year"), ("Equipment", "per request"),
            ("Mobile Phone", "per month"), ("Relocation", "per move"), ("Client Gift", "per gift"),
            ("Wellness", "per quarter"), ("Software Purchase", "per licence"), ("Book Allowance", "per year"),
            ("Team Event", "per person"), ("Taxi", "per ride"), ("Childcare", "per month"),
            ("Certification", "per exam"), ("Coworking", "per month"), ("Internet Allowance", "per month"),
            ("Eyewear", "per year"), ("Commuting", "per month"), ("Language Course", "per course"),
            ("Parking", "per month"), ("Hospitality", "per guest")]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


@dataclass
class Doc:
    doc_id: str
    type: str
    title: str
    subject: str  # as written in sentences: "Orvane Telquist", "the Vexa Relay"
    facts: list[tuple[Relation, str]] = field(default_factory=list)
    unit: str = ""  # a policy's unit ("per trip")


@dataclass
class World:
    docs: list[Doc]
    names: set[str]  # every proper name, for the disjointness tests
    people: list[str]
    teams: list[str]
    systems: list[str]
    sites: list[str]


def _date(rng: random.Random, first_year: int, last_year: int) -> str:
    day = dt.date(first_year, 1, 1) + dt.timedelta(days=rng.randrange((last_year - first_year + 1) * 365))
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def _month(rng: random.Random, first_year: int, last_year: int) -> str:
    return f"{rng.choice(MONTHS)} {rng.randint(first_year, last_year)}"


def _money(thousands: int) -> str:
    return f"${thousands / 1000:g} million" if thousands >= 1000 else f"${thousands},000"


def build_world(seed: int = SEED) -> World:
    """The company: its sites, people, teams, products, policies, projects and incidents, all seeded."""
    rng = random.Random(seed)
    taken: set[str] = {COMPANY}
    sites = invented_words(rng, 6, taken)
    roots = invented_words(rng, 40 * 2 + 24 + 28 + 24 + 12, taken)
    first, last = roots[:40], roots[40:80]
    team_roots, product_roots = roots[80:104], roots[104:132]
    project_roots, system_roots = roots[132:156], roots[156:168]
    people = [f"{a} {b}" for a, b in zip(first, last, strict=True)]
    teams = [f"{r} Team" for r in team_roots]
    systems = [f"{r} {rng.choice(SYSTEM_NOUNS)}" for r in system_roots]
    team_site = {t: rng.choice(sites) for t in teams}
    # The first 24 people lead the 24 teams; the others join a random team.
    person_team = {p: teams[i] if i < len(teams) else rng.choice(teams) for i, p in enumerate(people)}
    rels = {kind: {r.name: r for r in relations} for kind, relations in RELATIONS.items()}
    docs: list[Doc] = []

    def add(kind: str, title: str, subject: str, values: dict[str, str], unit: str = "") -> None:
        doc = Doc(f"{kind}-{len([d for d in docs if d.type == kind]) + 1:03d}", kind, title, subject, unit=unit)
        doc.facts = [(rels[kind][name], value) for name, value in values.items()]
        docs.append(doc)

    extensions = rng.sample(range(3000, 9000), len(people))
    for person, ext in zip(people, extensions, strict=True):
        team = person_team[person]
        add("people", person, person, {"role": rng.choice(ROLES), "team": team, "site": team_site[team],
                                       "start_year": str(rng.randint(2008, 2025)), "extension": str(ext)})
    for i, team in enumerate(teams):
        size, floor = rng.randint(5, 38), rng.randint(1, 12)
        while str(floor) == str(size):
            floor = rng.randint(1, 12)
        add("team", team, f"the {team}", {"lead": people[i], "size": str(size), "floor": str(floor),
                                           "site": team_site[team]})
    codes = rng.sample(range(100, 1000), len(product_roots))
    for root, number in zip(product_roots, codes, strict=True):
        noun = rng.choice(PRODUCT_NOUNS)
        name = f"{root} {noun}"
        add("product", name, f"the {name}", {"code": f"{root[0]}{noun[0]}-{number}",
                                              "price": f"${rng.randrange(5, 980) * 10 - 1:,}",
                                              "launch": _month(rng, 2018, 2025), "owner": rng.choice(teams)})
    limits = [25, 40, 60, 75, 90, 120, 150, 200, 250, 300, 450, 500, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000]
    policy_codes = rng.sample(range(100, 1000), len(POLICIES))
    for (topic, unit), number in zip(POLICIES, policy_codes, strict=True):
        name = f"{topic} Policy"
        add("policy", name, f"the {name}", {"code": f"POL-{number}", "limit": f"${rng.choice(limits):,}",
                                             "deadline": f"{rng.choice([7, 10, 14, 21, 30, 45, 60, 90])} days",
                                             "approver": rng.choice(people), "effective": _date(rng, 2019, 2025)},
            unit=unit)
    for root in project_roots:
        name = f"Project {root}"
        add("project", name, name, {"owner": rng.choice(people), "budget": _money(rng.randrange(12, 95) * 50),
                                    "launch": _month(rng, 2025, 2027), "team": rng.choice(teams)})
    incident_ids = rng.sample(range(1000, 10000), N_DOCS["incident"])
    for number in incident_ids:
        name = f"Incident INC-{number}"
        duration = f"{rng.randint(12, 58)} minutes" if rng.random() < 0.6 else f"{rng.randint(2, 9)} hours"
        add("incident", name, name, {"date": _date(rng, 2023, 2025), "system": rng.choice(systems),
                                     "duration": duration, "severity": f"SEV-{rng.randint(1, 4)}",
                                     "responder": rng.choice(people)})
    assert {k: sum(d.type == k for d in docs) for k in N_DOCS} == N_DOCS
    names = {COMPANY, *sites, *roots, *people, *teams, *systems}
    names |= {d.title for d in docs if d.type in ("product", "project")}
    return World(sorted(docs, key=lambda d: d.doc_id), names, people, teams, systems, sites)


# ---------------------------------------------------------------- rendering and checks


def _fill(template: str, doc: Doc, value: str = "") -> str:
    return fill(template, doc.subject, value, doc.unit)


def render(doc: Doc, choice: list[int], order: list[int]) -> str:
    """The document text: fact ``i`` stated with variant ``choice[i]``, facts in ``order``."""
    return " ".join(_fill(doc.facts[i][0].variants[choice[i]][0], doc, doc.facts[i][1]) for i in order)


def _stems(text: str) -> set[str]:
    """Content-word stems: crude suffix stripping, so that 'employed' and 'employment' count as one word."""
    stems = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if word in STOPWORDS:
            continue
        word = LEMMAS.get(word, word)
        for suffix in ("ment", "ing", "ed", "es", "s", "e"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                if word[-1] == word[-2] and word[-1] not in "aeiouls":  # occurred -> occur, planned -> plan
                    word = word[:-1]
                break
        stems.add(word)
    return stems


def occurrences(value: str, text: str) -> int:
    """How often ``value`` appears in ``text`` as a whole span (not inside a longer number or word)."""
    return len(re.findall(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", text))


def _check_text(doc: Doc, text: str) -> None:
    if FORBIDDEN_CHARS & set(text) or "\n" in text:
        raise ValueError(f"{doc.doc_id}: forbidden character or newline in {text!r}")
    for _, value in doc.facts:
        if occurrences(value, text) != 1:
            raise ValueError(f"{doc.doc_id}: value {value!r} must occur exactly once in {text!r}")


def _questions(doc: Doc, text: str, choice: list[int], rng: random.Random) -> list[dict]:
    """One lexical and one paraphrased question per fact, checked against the document's words."""
    doc_stems, subject_stems = _stems(text), _stems(doc.subject)
    rows = []
    for i, (rel, value) in enumerate(doc.facts):
        fact_id = f"{doc.doc_id}-{rel.name}"
        sentence, lexical = rel.variants[choice[i]]
        lex_q = _fill(lexical, doc)
        shared = (_stems(lex_q) - subject_stems) & (_stems(_fill(sentence, doc, value)) - _stems(value))
        if not shared:
            raise ValueError(f"{fact_id}: lexical question {lex_q!r} shares no word with its sentence")
        options = list(rel.paraphrased)
        rng.shuffle(options)
        para_q = next((_fill(q, doc) for q in options if not (_stems(_fill(q, doc)) - subject_stems) & doc_stems),
                      None)
        if para_q is None:
            raise ValueError(f"{fact_id}: every paraphrased question shares a word with {text!r}")
        for kind, question in (("lexical", lex_q), ("paraphrased", para_q)):
            rows.append({"id": f"{fact_id}-{kind[:3]}", "question": question, "answer": value,
                         "doc_id": doc.doc_id, "fact_id": fact_id, "kind": kind, "answer_type": rel.answer_type})
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> int:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8", newline="\n")
    return len(text)


def generate(out_dir: Path, seed: int = SEED) -> dict:
    """Write ``knowledge/{docs,facts,qa,paraphrases,hard_qa}.jsonl`` under ``out_dir``; return counts and sizes."""
    world = build_world(seed)
    rng = random.Random(seed + 1)
    docs, facts, qa, paraphrases = [], [], [], []
    choices: dict[str, list[int]] = {}  # each document's sentence variants, which its lexical questions reuse
    for doc in world.docs:
        n = len(doc.facts)
        renderings: list[str] = []
        choice, order = [rng.randrange(4) for _ in range(n)], rng.sample(range(n), n)
        text = render(doc, choice, order)
        choices[doc.doc_id] = choice
        qa += _questions(doc, text, choice, rng)
        renderings.append(text)
        while len(renderings) < N_PARAPHRASES:  # new variants and a new sentence order, never a repeat
            again = render(doc, [rng.randrange(4) for _ in range(n)], rng.sample(range(n), n))
            if again not in renderings:
                renderings.append(again)
        for k, rendering in enumerate(renderings, start=1):
            _check_text(doc, rendering)
            paraphrases.append({"doc_id": doc.doc_id, "k": k, "text": rendering})
        docs.append({"doc_id": doc.doc_id, "title": doc.title, "type": doc.type, "text": text})
        facts += [{"fact_id": f"{doc.doc_id}-{rel.name}", "doc_id": doc.doc_id, "subject": doc.title,
                   "relation": rel.name, "value": value, "answer_type": rel.answer_type}
                  for rel, value in doc.facts]
    out = Path(out_dir) / "knowledge"
    out.mkdir(parents=True, exist_ok=True)
    stats: dict = {}
    hard = hard_questions(world.docs, choices, seed + 2)  # its own stream: the other files stay as they were
    for name, rows in (("docs", docs), ("facts", facts), ("qa", qa), ("paraphrases", paraphrases),
                       ("hard_qa", hard)):
        chars = _write_jsonl(out / f"{name}.jsonl", rows)
        stats[name] = {"rows": len(rows), "characters": chars, "approx_tokens": chars // 4}
    return stats


def entity_names(seed: int = SEED) -> set[str]:
    """Every World B proper name (people and their name parts, teams, products, projects, systems, sites)."""
    return build_world(seed).names


if __name__ == "__main__":
    print(json.dumps(generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data")), indent=1))
