"""The hand-written teaching content of each lesson, loaded from ``ftrag/course/teaching_notes/NN_name.yaml``.

``python -m ftrag.course.workshop`` writes it into ``instructor/notes/``. Each lesson's YAML file holds three lists:

* ``questions``: three discussion questions that make learners reason about the lesson's measured claim and its
  limits (taken from each lesson's "What we measured, and what this does not show" section);
* ``mistakes``: ``blank``, ``mistake``, ``hint`` for the lab, where ``blank`` is the exact name of the function or
  variable the learner fills in (a test matches it against ``labs/NN_*.ipynb``), ``mistake`` is what learners
  typically get wrong (from the failure messages of ``ftrag/check/lNN.py``), and ``hint`` is what the instructor
  says without giving the answer away;
* ``trouble``: ``symptom``, ``fix`` for a cell that is slow or fails on a learner's machine.

In ``trouble``, ``{peak}`` and ``{run}`` stand for the lesson's measured peak memory and run time
(``docs/run_stats.json``), so they cannot drift. Every string ends up in a Markdown table cell: keep each to one
or two sentences, with no ``|`` in it. The texts are folded YAML blocks (``>-``): lines are joined with spaces, so
wrap them anywhere, but do not indent a line further than the others (YAML would keep its line break). The
generated notes are rebuilt from these files; edit them, not the notes.
"""

from __future__ import annotations

from importlib.resources import files

import yaml

FOLDER = "teaching_notes"
TABLES = {"mistakes": ("blank", "mistake", "hint"), "trouble": ("symptom", "fix")}  # each entry's keys, in order


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or "|" in value or "\n" in value:
        raise ValueError(f"{where}: {value!r} must be one line of text with no '|' (it goes in a Markdown table "
                         "cell): fix the YAML")
    return value


def load_notes() -> dict[str, dict]:
    """``{lesson: {"questions": [str], "mistakes": [(blank, mistake, hint)], "trouble": [(symptom, fix)]}}``."""
    notes = {}
    for path in sorted(files(__package__).joinpath(FOLDER).iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".yaml"):
            continue
        where = f"ftrag/course/{FOLDER}/{path.name}"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or set(data) != {"questions", *TABLES}:
            raise ValueError(f"{where} must hold exactly the lists questions, {', '.join(TABLES)}")
        content = {"questions": [_text(q, f"{where}: questions") for q in data["questions"]]}
        for field, keys in TABLES.items():
            for entry in data[field]:
                if not isinstance(entry, dict) or set(entry) != set(keys):
                    raise ValueError(f"{where}: each entry of {field} needs exactly {', '.join(keys)}; got {entry!r}")
            content[field] = [tuple(_text(entry[k], f"{where}: {field}") for k in keys) for entry in data[field]]
        notes[path.name[:2]] = content
    return notes


NOTES: dict[str, dict] = load_notes()
