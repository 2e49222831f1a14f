"""The decision guide's rows: when to fine-tune, retrieve, both or neither, each with evidence read from ``results/``.
"""

from __future__ import annotations

import re
from importlib.resources import files

import yaml

from ftrag.results import load_results

LESSONS = {"02": "02_json_finetuning", "03": "03_dialect_finetuning", "04": "04_rag_pipeline",
           "05": "05_finetune_or_rag"}
LINKS = {k: f"../notebooks/{v}.ipynb" for k, v in LESSONS.items()}

GUIDE = "decision_guide.yaml"  # the rows, beside this file: edit them there


def load_rows() -> list[tuple[str, str, str]]:
    """The guide's rows from ``ftrag/decision_guide.yaml``: (situation, what to do, evidence template)."""
    rows = yaml.safe_load(files(__package__).joinpath(GUIDE).read_text(encoding="utf-8"))
    keys = ("situation", "do", "evidence")
    for row in rows:
        if not isinstance(row, dict) or set(row) != set(keys) or not all(isinstance(row[k], str) for k in keys):
            raise ValueError(f"ftrag/{GUIDE}: each row needs exactly the texts {', '.join(keys)}; got {row!r}")
    return [tuple(row[k] for k in keys) for row in rows]


# (situation, what to do, evidence). In the evidence, {NN:key} is results/NN_*.json's value for key, and
# {NN:key:FORMAT} formats it (Python format spec); [NN] links the lesson (``fill`` does both).
ROWS = load_rows()

_FIELD = re.compile(r"\{(\d\d):([a-z0-9_]+)(?::([^}]*))?\}")
_LINK = re.compile(r"\[(\d\d)\]")


def recorded_values() -> dict[str, dict]:
    """Every lesson's recorded results (``results/NN_*.json``), by lesson number."""
    return {lesson: load_results(stem) for lesson, stem in LESSONS.items()}


def fill(template: str, values: dict[str, dict] | None = None, *, links: bool = True) -> str:
    """``template`` with every ``{NN:key[:fmt]}`` replaced by the lesson's recorded value (and ``[NN]`` linked)."""
    values = values if values is not None else recorded_values()

    def number(match: re.Match) -> str:
        lesson, key, spec = match.group(1), match.group(2), match.group(3) or ""
        if lesson not in values:
            raise KeyError(f"no results file for lesson {lesson}; known: {sorted(values)}")
        if key not in values[lesson]:
            raise KeyError(f"results/{LESSONS[lesson]}.json has no {key!r}; rerun lesson {lesson} "
                           f"(`python -m ftrag.course.refresh notebooks/{LESSONS[lesson]}.ipynb`)")
        return format(values[lesson][key], spec)

    text = _FIELD.sub(number, template)
    if links:
        return _LINK.sub(lambda m: f"([lesson {m.group(1)}]({LINKS[m.group(1)]}))", text)
    return _LINK.sub(lambda m: f"(lesson {m.group(1)})", text)


def table(values: dict[str, dict] | None = None):
    """The guide as a DataFrame (situation, do, evidence), numbers filled in."""
    import pandas as pd

    values = values if values is not None else recorded_values()
    return pd.DataFrame([{"situation": s, "do": d.replace("**", ""), "evidence": fill(e, values, links=False)}
                         for s, d, e in ROWS])
