"""The workshop kit's generated pages: ``python -m ftrag.course.workshop`` (``--check`` only compares).

Every time in the kit comes from ``docs/run_stats.json``, which ``python -m ftrag.course.refresh`` writes when it
executes the lessons and solutions; every number learners should see comes from the committed notebook outputs. This
module writes from them, through the templates in ``ftrag/course/templates/``:

* the run-time column of the README's lesson table;
* the agendas in ``instructor/`` (a 90-minute taster, a half-day, a full day): each slot's length is a stated
  allowance, or a measured run time rounded up to the minute plus a stated allowance (below, in ``READING`` and
  ``LAB``), and the slots add up to the session's length;
* the teaching notes in ``instructor/notes/``: the lesson's claim and the cell that proves it, the numbers the
  committed run printed, and the hand-written content of ``ftrag/course/teaching_notes/`` (discussion questions, the
  lab's common mistakes with hints, what to do when a cell is slow or fails).

``python -m ftrag.course.refresh`` runs this after it executes notebooks, and a test fails when a committed page differs
from what the files say now.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import nbformat

from ftrag.cli import parse, parser_for, switch
from ftrag.course.real_table import minutes_label, real_model_runs
from ftrag.course.render import render
from ftrag.course.teaching import NOTES
from ftrag.files import sync_generated
from ftrag.paths import repo_root

# ----------------------------------------------------------------------------------------------------------
# Stated allowances, in minutes (the measured part is added to them). A live demo: the lesson's measured run time
# (rounded up) plus this much reading and explaining, as the instructor talks through each output.
READING = {"00": 8, "01": 15, "02": 15, "03": 15, "04": 18, "05": 20, "06": 12}
# A lab: this plus its solution's run time, rounded up (lab_minutes; 2 min per exercise, 6-7 per experiment).
LAB = {"00": 10, "01": 20, "02": 22, "03": 18, "04": 20, "05": 22, "06": 15}
# The concepts a lesson needs, taught before its demo (slides: python -m ftrag.course.slides).
TEACH = {"00": 5, "01": 10, "02": 10, "03": 10, "04": 10, "05": 10, "06": 5}

# The one claim each lesson proves: a substring of the claim line it prints (for lesson 00, of the exact-match line
# its next cell asserts), and the words of that claim for an instructor.
HEADLINE = {
    "00": ("EM reading World A passages", "the course model reads World A passages well but cannot "
           "answer World B questions closed-book: it never read them"),
    "01": ("putting the document in the context", "the model cannot state facts it never read, and it can once "
           "the document is in its context: the seed of RAG"),
    "02": ("LoRA: parse", "a format the model has never seen (JSON with a schema) is learned by LoRA on under 5% "
           "of the weights"),
    "03": ("LoRA continued pretraining lowers dialect perplexity", "a dialect is learned by continued "
           "pretraining, and similar documents in the context help far less"),
    "04": ("end-to-end EM", "a retrieval pipeline makes facts the model never saw answerable, nearly as well as "
           "handing it the right passage"),
    "05": ("RAG exact match", "for new facts, retrieval beats fine-tuning on the same documents by a wide margin"),
    "06": ("RAG answers more than the reader alone", "on real documents, retrieval adds answers"),
}


# ----------------------------------------------------------------------------------------------------------
# Measured times


def stats_path() -> Path:
    return repo_root() / "docs" / "run_stats.json"


def load_stats() -> dict:
    path = stats_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `python -m ftrag.course.refresh` to execute the notebooks and "
                                "record their run times")
    return json.loads(path.read_text())


@dataclass(frozen=True)
class Lesson:
    number: str  # "00"
    stem: str  # "00_start_here"
    title: str  # "Start here"

    @property
    def notebook(self) -> str:
        return f"notebooks/{self.stem}.ipynb"

    @property
    def lab(self) -> str:
        return f"labs/{self.stem}.ipynb"

    @property
    def solution(self) -> str:
        return f"solutions/{self.stem}.ipynb"

    @property
    def notes(self) -> str:
        return f"instructor/notes/{self.stem}.md"


def lessons(root: Path | None = None) -> dict[str, Lesson]:
    root = root or repo_root()
    found = {}
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
        title = first.lstrip("# ").split("·", 1)[-1].strip()
        found[path.stem[:2]] = Lesson(path.stem[:2], path.stem, title)
    return found


def run_minutes(stats: dict, rel: str) -> float:
    """Measured run time of one notebook, in minutes (from docs/run_stats.json)."""
    if rel not in stats:
        raise KeyError(f"docs/run_stats.json has no entry for {rel}: run `python -m ftrag.course.refresh {rel}`")
    return stats[rel]["seconds"] / 60


def lab_minutes(stats: dict, lesson: Lesson) -> int:  # LAB + the measured solution run, rounded up
    return LAB[lesson.number] + math.ceil(run_minutes(stats, lesson.solution))


def run_time_label(run: dict) -> str:
    """The README's run time of one notebook: with both cores when measured (``--threads 2``), and with one thread."""
    one = minutes_label(run["seconds"] / 60)
    if "threads_2" not in run:
        return f"{one} (1 thread)"
    return f"{minutes_label(run['threads_2']['seconds'] / 60)} (1 thread: {one})"


# ----------------------------------------------------------------------------------------------------------
# README


_README_ROW = re.compile(r"^(\| (\d\d) \| [^|]+\| [^|]+\| )([^|]+)( \|.*)$")


def readme_text(text: str, stats: dict) -> str:
    """The README with its lesson table's run-time column set from ``stats``."""
    def row(match: re.Match) -> str:
        lesson = match.group(2)
        rel = next((k for k in stats if k.startswith(f"notebooks/{lesson}_")), None)
        if rel is None:
            raise KeyError(f"docs/run_stats.json has no notebooks/{lesson}_*.ipynb: run `python -m "
                           f"ftrag.course.refresh`")
        return f"{match.group(1)}{run_time_label(stats[rel])}{match.group(4)}"

    return real_model_runs("\n".join(_README_ROW.sub(row, line) for line in text.split("\n")), stats)


# ----------------------------------------------------------------------------------------------------------
# Agendas


@dataclass(frozen=True)
class Slot:
    kind: str  # teach, demo, lab, discussion, break, buffer
    what: str
    minutes: int
    basis: str  # how the length was set


def exercises(lesson: Lesson, root: Path | None = None) -> str:
    """The lab's exercises, from its headings: "1 count characters; 2 reproducible randomness; ..."."""
    nb = nbformat.read((root or repo_root()) / lesson.lab, as_version=4)
    found = [m for c in nb.cells if c.cell_type == "markdown"
             for m in re.finditer(r"^## Exercise (\d+): (.+)$", c.source, flags=re.M)]
    return "exercises " + "; ".join(f"{m.group(1)} {m.group(2).strip()}" for m in found)


def teach(lesson: str, what: str) -> tuple:
    return ("teach", lesson, what)


# What a lesson's teach and demo slots cover when an agenda takes the whole lesson (the taster words its own).
TEACH_TOPIC = {
    "01": "Next-token prediction, sampling, perplexity",
    "02": "Fine-tuning for a format: LoRA, QLoRA, full fine-tuning, constrained decoding",
    "03": "Continued pretraining on a dialect; forgetting",
    "04": "Retrieval: chunks, embeddings, BM25, fusion, reranking, the reader",
    "05": "New facts: into the weights or into the prompt?",
    "06": "The method on your own documents: gold questions, the oracle, the report",
}
DEMO_TOPIC = {
    "01": "next-token distributions, perplexity of seen and unseen text, a mini-pretraining run",
    "02": "prompting vs constrained decoding vs LoRA vs QLoRA vs full fine-tuning",
    "03": "LoRA vs similar documents in the context; forgetting across ranks",
    "04": "a RAG pipeline from chunking to end-to-end exact match",
    "05": "fine-tune or RAG on the same facts",
    "06": "the method on Python's reference topics, with the real model as the reader",
}


def lesson_block(lesson: str) -> list[tuple]:
    """A whole lesson in an agenda: its concepts taught, the lesson run live, its lab (every exercise)."""
    return [teach(lesson, TEACH_TOPIC[lesson]), ("demo", lesson, DEMO_TOPIC[lesson]), ("lab", lesson, "")]


def slots_for(spec: list[tuple], stats: dict, all_lessons: dict[str, Lesson], length: int) -> list[Slot]:
    """Turn an agenda spec into slots with lengths; the last slot (buffer) makes them add up to ``length``."""
    slots = []
    for kind, arg, what in spec:
        if kind in ("demo", "lab"):
            lesson = all_lessons[arg]
            if kind == "demo":
                measured = run_minutes(stats, lesson.notebook)
                rounded = math.ceil(measured)
                slots.append(Slot("demo", f"[{arg} · {lesson.title}](../{lesson.notebook}): {what}",
                                  rounded + READING[arg],
                                  f"run {minutes_label(measured)} (measured) -> {rounded} + {READING[arg]} reading"))
            else:
                what = what or exercises(lesson)
                measured = run_minutes(stats, lesson.solution)
                slots.append(Slot("lab", f"[lab {arg}](../{lesson.lab}): {what}", lab_minutes(stats, lesson),
                                  f"{LAB[arg]} lab allowance + solution run {minutes_label(measured)} (measured) "
                                  f"-> {math.ceil(measured)}"))
        elif kind == "teach":
            slots.append(Slot("teach", what, TEACH[arg], f"{TEACH[arg]} stated (concepts of lesson {arg})"))
        else:  # discussion, break: arg is the stated length
            slots.append(Slot(kind, what, int(arg), f"{arg} stated"))
    used = sum(s.minutes for s in slots)
    if used > length:
        raise ValueError(f"the slots need {used} min, more than the session's {length}: shorten the spec")
    slots.append(Slot("buffer", "questions, catching up, a slow laptop", length - used, "what is left"))
    return slots


_GUIDE = "[decision guide](../docs/decision_guide.md) (printed: the [handout](README.md#the-handout))"

AGENDAS = {
    "taster_90min": {
        "title": "90-minute taster",
        "length": 90,
        "who": "A first look for a team deciding how to adapt a model: one decision, measured live.",
        "spec": [
            ("discussion", 5, "Welcome: the question (fine-tune or RAG?) and how the course answers it: by "
                              "measuring on a model whose training data we know"),
            ("demo", "00", "the pre-flight check, the course world, what the model has and has not read"),
            teach("05", "Two ways to give a model new facts: fine-tuning writes them into the weights, RAG puts "
                        "them in the prompt"),
            ("demo", "05", "the same facts injected both ways; paraphrases, memorised questions, RAFT; cost of "
                           "a new fact"),
            ("lab", "05", "exercises 1 (the multiple-choice scorer) and 2 (RAFT-style prompts); the rest as homework"),
            ("discussion", 10, f"The {_GUIDE}: which rows match your use case?"),
        ],
    },
    "half_day": {
        "title": "Half-day workshop (4 hours)",
        "length": 240,
        "who": "Engineers who will build one of the two: the format lesson, the RAG pipeline, and the decision.",
        "spec": [
            ("discussion", 5, "Welcome and the question; who has run the pre-flight check?"),
            ("demo", "00", "the pre-flight check, the course world"),
            *lesson_block("02"),
            ("break", 15, "Break"),
            *lesson_block("04"),
            ("break", 10, "Break"),
            *lesson_block("05"),
            ("discussion", 15, f"The {_GUIDE} against the participants' own use cases"),
        ],
    },
    "full_day": {
        "title": "Full-day workshop (7 hours with lunch)",
        "length": 420,
        "who": "The whole course in one day, every lesson taught, demonstrated and practised.",
        "spec": [
            ("discussion", 10, "Welcome, the question, the pre-flight check on every laptop"),
            ("demo", "00", "the course world and what the model has and has not read"),
            ("lab", "00", ""),
            *lesson_block("01"),
            ("break", 15, "Break"),
            *lesson_block("02"),
            ("break", 60, "Lunch"),
            *lesson_block("03"),
            *lesson_block("04"),
            ("break", 15, "Break"),
            *lesson_block("05"),
            ("discussion", 20, f"The {_GUIDE} against the participants' own use cases"),
        ],
    },
}


def _clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def agenda_markdown(name: str, stats: dict, all_lessons: dict[str, Lesson]) -> str:
    """One agenda page (``instructor/agenda_<name>.md``), from ``templates/agenda.md.j2``."""
    agenda = AGENDAS[name]
    slots = slots_for(agenda["spec"], stats, all_lessons, agenda["length"])
    covered = sorted({arg for kind, arg, _ in agenda["spec"] if kind in ("demo", "lab", "teach")})
    starts = [0, *accumulate(slot.minutes for slot in slots)]  # each slot starts where the last ended
    return render("agenda.md.j2", title=agenda["title"], who=agenda["who"], length=agenda["length"],
                  covered=[all_lessons[n] for n in covered],
                  slots=[(_clock(start), slot) for start, slot in zip(starts[:-1], slots, strict=True)],
                  end=_clock(starts[-1]), total=starts[-1])


def parse_agenda(text: str) -> tuple[list[tuple[str, int, str]], int, int]:
    """(start, minutes, kind) of each slot, the stated total and the planned length: for tests and checks."""
    rows = [line.split(" | ") for line in text.splitlines() if re.match(r"^\| \d+:\d\d \| \d+ \|", line)]
    slots = [(r[0].lstrip("| "), int(r[1]), r[2]) for r in rows]
    total = re.search(r"\| \*\*(\d+)\*\* \| \| \*\*total\*\* \((\d+) min planned\)", text)
    if total is None:
        raise ValueError("no total row in the agenda")
    return slots, int(total.group(1)), int(total.group(2))


# ----------------------------------------------------------------------------------------------------------
# Teaching notes


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


# Lines that carry a lesson's evidence: a claim (ftrag.claims.claim), or lesson 00's exact-match line (which its
# next cell asserts).
_EVIDENCE = re.compile(r"^(claim holds|EM reading World A passages)")


def evidence(notebook: Path) -> list[dict]:
    """The cells that prove a lesson's claims: execution count, section, and the claim lines they printed."""
    nb = nbformat.read(notebook, as_version=4)
    section, found = "", []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heading = next((line for line in cell.source.splitlines() if line.startswith("#")), None)
            if heading:
                section = heading.lstrip("# ").strip()
            continue
        out = _stdout(cell)
        lines = [line for line in out.splitlines() if _EVIDENCE.match(line)]
        if lines:
            found.append({"cell": cell.get("execution_count"), "section": section, "lines": lines})
    return found


def notes_markdown(lesson: Lesson, stats: dict, root: Path) -> str:
    """One lesson's teaching notes (``instructor/notes/NN_name.md``), from ``templates/notes.md.j2``."""
    content = NOTES[lesson.number]
    proofs = evidence(root / lesson.notebook)
    key, words = HEADLINE[lesson.number]
    headline = next(((p, line) for p in proofs for line in p["lines"] if key in line), None)
    if headline is None:
        raise ValueError(f"{lesson.notebook}: no printed claim contains {key!r}; rerun the lesson or update "
                         "HEADLINE in ftrag/course/workshop.py")
    proof, line = headline
    run = stats[lesson.notebook]
    peak, run_time = f"{run['peak_mb']:,} MB", minutes_label(run["seconds"] / 60)

    def filled(text: str) -> str:  # the measured values for {peak} and {run} in the hand-written trouble table
        return text.replace("{peak}", peak).replace("{run}", run_time)

    return render("notes.md.j2", lesson=lesson, run_time=run_time, peak=peak,
                  solution_time=minutes_label(stats[lesson.solution]["seconds"] / 60), cpus=run["cpus"],
                  claim=words[0].upper() + words[1:], proof=proof, line=line, proofs=proofs,
                  questions=content["questions"], mistakes=content["mistakes"],
                  trouble=[(filled(symptom), filled(fix)) for symptom, fix in content["trouble"]])


# ----------------------------------------------------------------------------------------------------------
# Writing and checking


def pages(root: Path | None = None) -> dict[Path, str]:
    """Every generated page (path -> text), from what is on disk now."""
    root = root or repo_root()
    stats = load_stats()
    all_lessons = lessons(root)
    out = {root / "README.md": readme_text((root / "README.md").read_text(), stats)}
    for name in AGENDAS:
        out[root / "instructor" / f"agenda_{name}.md"] = agenda_markdown(name, stats, all_lessons)
    for lesson in all_lessons.values():
        out[root / lesson.notes] = notes_markdown(lesson, stats, root)
    return out


@dataclass
class WorkshopArgs:
    """The flags of ``python -m ftrag.course.workshop``."""

    check: bool = switch("exit 1 if a page differs from what the files say")


def main(argv: list[str] | None = None) -> int:
    (args,) = parse(parser_for(WorkshopArgs, prog="python -m ftrag.course.workshop",
                               description="Write the README's run times, the agendas and the teaching notes."), argv)
    stale = sync_generated(pages(), repo_root(), check=args.check)
    if args.check:
        print(f"out of date: {', '.join(stale)}; run `python -m ftrag.course.workshop`" if stale
              else "the README, agendas and teaching notes match docs/run_stats.json and the notebooks")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
