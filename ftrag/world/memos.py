"""The dialect: Quorvenex's internal memos and tickets, written in a shorthand of the company's own.

The course model never sees any of it in pretraining. Lesson 03 measures what continued pretraining (LoRA or full)
teaches that pasting similar memos into the prompt does not: codes with internal structure, fixed word order,
collocations that are predictable only once learned, and a closing line fixed by two attributes of the memo.

``generate(data_dir)`` writes ``data/dialect/``: ``train.txt.xz`` (over 5 MB of text), ``valid.txt``, ``test.txt``
(documents separated by one blank line) and ``glossary.md``. A document looks like this::

    TQ-2574-RX :: BLX :: prq2 :: wk32 :: opzek
    STAT: blokt / OWN: Zirnoss Jozian / ETA: wk34
    blokt pndq TQ-1337-KV, depz Kolvena Ledger
    akkd zyv ZJ, patch cfg on Lexwen Gateway
    orlq trosk zyv
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from ftrag.files import XZ_PRESET, write_text
from ftrag.world import world_b

SEED = 303
N_TRAIN, N_VALID, N_TEST = 23000, 300, 500

# Department word in the header -> the two-letter code every id of that department ends with.
DEPARTMENTS = {"opzek": "RX", "fintq": "KV", "sekrz": "ZM", "prodx": "PL", "supqo": "DQ", "faxil": "WT"}
DEPT_MEANING = {"opzek": "operations", "fintq": "finance", "sekrz": "security", "prodx": "product",
                "supqo": "support", "faxil": "facilities"}
# Document type -> (id prefix, meaning, statuses it can have, the line it always carries, optional lines).
TYPES = {
    "QRV": ("MV", "review request (memo)", ["pndq", "wipz"], "qrask", ["synq", "akkd", "kvt", "fwd", "tlmq"]),
    "HXD": ("MV", "handover (memo)", ["wipz", "pndq", "klozd"], "hndf", ["ovrn", "nxsh", "akkd", "kvt", "tlmq"]),
    "BLX": ("TQ", "blocker (ticket)", ["blokt"], "blokt",
            ["depz", "fwd", "akkd", "rbk", "nxsh"]),
    "MZP": ("TQ", "maintenance (ticket)", ["pndq", "wipz", "klozd"], "rbk", ["tlmq", "nxsh", "synq", "ovrn", "kvt",
                                                                          "fwd"]),
}
STATUSES = {"blokt": "blocked", "pndq": "pending", "wipz": "in progress", "klozd": "closed"}
PRIORITIES = ["prq1", "prq2", "prq3"]  # prq1 = most urgent
DAYS = {"mnz": "Monday", "tqz": "Tuesday", "wdz": "Wednesday", "thz": "Thursday", "frz": "Friday"}
TLM_COLOURS = ["grn", "amb", "red"]
# The closing line: a fixed phrase chosen by (type, priority). Words recur across phrases on purpose, so that
# copying the closing line of some other memo in the prompt is usually wrong.
CLOSING = {
    ("QRV", "prq1"): "vanqel zyv orlq", ("QRV", "prq2"): "orlq trosk mevq", ("QRV", "prq3"): "drevna qix",
    ("HXD", "prq1"): "zelk orlq fyn", ("HXD", "prq2"): "qix vanqel trosk", ("HXD", "prq3"): "mevq zelk",
    ("BLX", "prq1"): "trosk drevna zyv", ("BLX", "prq2"): "orlq trosk zyv", ("BLX", "prq3"): "fyn lodqa",
    ("MZP", "prq1"): "lodqa vanqel qix", ("MZP", "prq2"): "zelk fyn mevq", ("MZP", "prq3"): "drevna orlq",
}
# Shorthand line templates. {ini} is the owner's initials, {W1} the header week plus one.
LINES = {
    "qrask": ["qrask @{ini2} re {sys} by wk{ETA}", "qrask @{ini2} re {task} by wk{ETA}"],
    "hndf": ["hndf {person} nxsh wk{W1}", "hndf {person}, {task} open"],
    "blokt": ["blokt pndq {tid}, {task} held", "blokt pndq {tid} til wk{ETA}"],
    "rbk": ["rbk-vrz {ver} on {sys} if tlmq red", "rbk-vrz {ver} ready, {task} first"],
    "synq": ["synq {day} w/ {team}", "synq {day} w/ {person2}"],
    "akkd": ["akkd zyv {ini}, {task} on {sys}", "akkd zyv {ini}"],
    "kvt": ["kvt: {caveat}", "kvt: {caveat}, see {tid}"],
    "fwd": ["fwd-zq @{code} + bzl BZ-{code}-{n3}", "fwd-zq @{code} re {sys}"],
    "tlmq": ["tlmq {colour} on {sys}, {metric}", "tlmq {colour} {metric}"],
    "ovrn": ["ovrn rota {ini2} + {ini3}", "ovrn rota {ini2} + {ini3}, {task} if {metric}"],
    "nxsh": ["nxsh wk{W1}: {task}", "nxsh wk{W1}: {task} on {sys}"],
    "depz": ["depz {sys} + {sys2}", "depz {team} for {task}"],
}
TASKS = ["restart workers", "rotate certs", "patch cfg", "clear disk", "migrate schema", "review alerts",
         "raise quota", "rerun backup", "drain nodes", "swap keys", "trim logs", "check latency", "renew lease",
         "reindex tables", "pin deps", "bump limits", "audit access", "fix cron", "move racks", "update docs",
         "flush cache", "resize pool", "purge queue", "split shard", "renew certs", "tag release"]
CAVEATS = ["no deploy fri", "needs second pair", "budget tight", "vendor slow", "cfg drift seen", "docs stale",
           "lab only", "old keys live", "partial data", "waiting on legal", "window sat only", "sla at risk",
           "manual step left", "no rollback plan"]
METRICS = ["p95 {a}0ms", "err {b}.{c}pct", "cpu {a}pct", "disk {a}pct", "queue {a}k"]


def _ticket_id(rng: random.Random, prefix: str, priority: str, code: str) -> str:
    """An id like TQ-2574-RX: the priority digit, two free digits, a check digit (sum of the first three mod 10)."""
    digits = [int(priority[-1]), rng.randrange(10), rng.randrange(10)]
    return f"{prefix}-{''.join(map(str, digits))}{sum(digits) % 10}-{code}"


def _initials(person: str) -> str:
    return "".join(part[0] for part in person.split())


def make_document(rng: random.Random, world: world_b.World) -> str:
    """One memo or ticket: header, status line, 2-7 shorthand lines, closing line."""
    kind = rng.choice(sorted(TYPES))
    prefix, _, statuses, required, optional = TYPES[kind]
    priority, dept = rng.choice(PRIORITIES), rng.choice(sorted(DEPARTMENTS))
    week = rng.randint(1, 45)
    status = rng.choice(statuses)
    eta = "nil" if status == "klozd" else f"wk{week + rng.randint(0, 6)}"
    owner, person, person2 = rng.sample(world.people, 3)
    header = f"{_ticket_id(rng, prefix, priority, DEPARTMENTS[dept])} :: {kind} :: {priority} :: wk{week} :: {dept}"
    lines = [header, f"STAT: {status} / OWN: {owner} / ETA: {eta}"]
    names = [required] + rng.sample(optional, rng.randint(1, min(5, len(optional))))
    sys1, sys2 = rng.sample(world.systems, 2)
    slots = {
        "ini": _initials(owner), "ini2": _initials(person), "ini3": _initials(person2), "person": person,
        "person2": person2, "sys": sys1, "sys2": sys2, "team": rng.choice(world.teams), "W1": week + 1,
        "ETA": eta[2:] if eta != "nil" else week + 1, "task": rng.choice(TASKS), "caveat": rng.choice(CAVEATS),
        "code": rng.choice(sorted(DEPARTMENTS.values())), "n3": rng.randint(100, 999), "day": rng.choice(sorted(DAYS)),
        "colour": rng.choice(TLM_COLOURS), "ver": f"v{rng.randint(1, 9)}.{rng.randint(0, 40)}",
        "metric": rng.choice(METRICS).format(a=rng.randint(11, 99), b=rng.randint(0, 9), c=rng.randint(0, 9)),
        "tid": _ticket_id(rng, "TQ", rng.choice(PRIORITIES), rng.choice(sorted(DEPARTMENTS.values()))),
    }
    lines += [rng.choice(LINES[name]).format(**slots) for name in names]
    lines.append(CLOSING[(kind, priority)])
    return "\n".join(lines)


def split_closing(document: str) -> tuple[str, str]:
    """(everything up to and including the last newline, the closing line): the completion task of lesson 03."""
    head, _, closing = document.rpartition("\n")
    return head + "\n", closing


def closing_line(header: str) -> str:
    """The closing line a header's type and priority call for (the rule the glossary states)."""
    parts = [p.strip() for p in header.split("::")]
    return CLOSING[(parts[1], parts[2])]


def dialect_terms() -> list[str]:
    """Every invented word of the dialect (none is English, none appears in World A)."""
    terms = {*TYPES, *DEPARTMENTS, *STATUSES, *DAYS, "prq", "qrask", "hndf", "rbk-vrz", "synq", "akkd", "zyv",
             "kvt", "fwd-zq", "bzl", "tlmq", "ovrn", "nxsh", "depz"}
    terms |= {word for phrase in CLOSING.values() for word in phrase.split()}
    return sorted(terms)


def glossary() -> str:
    """The glossary, built from the same tables as the generator so the two never disagree."""
    md = ["# The Quorvenex dialect: glossary", "",
          "Internal memos and tickets of Quorvenex (World B), generated by `python -m ftrag.world.memos`. "
          "Never part of the course model's pretraining.", "",
          "## Document layout", "",
          "1. Header: `ID :: TYPE :: PRIORITY :: wkNN :: DEPT` (NN = week of issue).",
          "2. Status line, fixed word order: `STAT: <status> / OWN: <full name> / ETA: wkNN` "
          "(ETA is the issue week or up to 6 weeks later; `ETA: nil` when the status is `klozd`).",
          "3. Two to six shorthand lines (no articles, `w/` = with, `re` = about, `+` = and).",
          "4. The closing line: a fixed phrase (see the rule below).", "",
          "Documents are separated by one blank line.", "",
          "## Codes", "",
          "- Ids: `MV-dddd-XX` for memos (QRV, HXD), `TQ-dddd-XX` for tickets (BLX, MZP). The first digit is the "
          "priority (1-3), the next two are free, the fourth is a check digit: the sum of the first three mod 10 "
          "(`TQ-2574-RX`: 2+5+7 = 14 -> 4). `XX` is the department code.",
          "- Budget lines: `BZ-XX-ddd`, always after `bzl`, with the same `XX` as the `fwd-zq @XX` before it.",
          "- Versions `vN.M`, always after `rbk-vrz`.", "",
          "| department word | code | meaning |", "|---|---|---|"]
    md += [f"| {d} | {c} | {DEPT_MEANING[d]} |" for d, c in DEPARTMENTS.items()]
    md += ["", "| type | id prefix | meaning | always carries |", "|---|---|---|---|"]
    md += [f"| {t} | {p} | {m} | `{LINES[r][0].split()[0]}` line |" for t, (p, m, _, r, _) in TYPES.items()]
    md += ["", "| term | meaning | always followed by |", "|---|---|---|",
           "| prq1 / prq2 / prq3 | priority (1 = most urgent) | |"]
    md += [f"| {s} | status: {m} | |" for s, m in STATUSES.items()]
    md += [f"| {d} | {m} | |" for d, m in DAYS.items()]
    md += ["| akkd | acknowledged | `zyv` + the owner's initials |",
           "| fwd-zq | forwarded to a department's queue | `@XX` (department code) |",
           "| bzl | budget line | `BZ-XX-ddd` |",
           "| blokt pndq | blocked, pending on | a ticket id |",
           "| depz | depends on | a system or a team |",
           "| nxsh | next shift | `wk` + the header week plus one |",
           "| rbk-vrz | roll back to version | `vN.M` |",
           "| synq | sync meeting | a day word, then `w/` |",
           "| tlmq | telemetry | a colour: `grn`, `amb`, `red` |",
           "| ovrn rota | overnight rota | two sets of initials joined by `+` |",
           "| hndf | handed over to | a full name |",
           "| qrask | review asked of | `@` + initials |",
           "| kvt | caveat | `:` |", "",
           "## closing_line_rule", "",
           "The last line of every document is fixed by its TYPE and PRIORITY, both in the header "
           "(the priority is also the id's first digit). Neither attribute alone decides it:", "",
           "| type | prq1 | prq2 | prq3 |", "|---|---|---|---|"]
    md += [f"| {t} | " + " | ".join(f"`{CLOSING[(t, p)]}`" for p in PRIORITIES) + " |" for t in TYPES]
    md += ["", f"Invented terms ({len(dialect_terms())}): " + ", ".join(f"`{t}`" for t in dialect_terms()), ""]
    return "\n".join(md)


def generate(out_dir: Path, seed: int = SEED, xz_preset: int = XZ_PRESET) -> dict:
    """Write ``dialect/{train.txt.xz,valid.txt,test.txt,glossary.md}``; return counts and sizes per split.

    ``xz_preset`` compresses the training split (a lower one is faster; the text is the same, the bytes are not).
    """
    world = world_b.build_world()
    out = Path(out_dir) / "dialect"
    out.mkdir(parents=True, exist_ok=True)
    stats: dict = {}
    seen: set[str] = set()
    for offset, (split, count) in enumerate((("train", N_TRAIN), ("valid", N_VALID), ("test", N_TEST))):
        rng = random.Random(seed * 10 + offset)  # one stream per split: valid/test do not shift with N_TRAIN
        docs: list[str] = []
        while len(docs) < count:
            doc = make_document(rng, world)
            if doc not in seen:  # no held-out document repeats a training one
                seen.add(doc)
                docs.append(doc)
        text = "\n\n".join(docs) + "\n"
        write_text(out / ("train.txt.xz" if split == "train" else f"{split}.txt"), text, xz_preset=xz_preset)
        stats[split] = {"rows": len(docs), "characters": len(text), "approx_tokens": len(text) // 4}
    (out / "glossary.md").write_text(glossary(), encoding="utf-8", newline="\n")
    return stats


if __name__ == "__main__":
    print(json.dumps(generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data")), indent=1))
