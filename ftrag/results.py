"""Each lesson's measured headline numbers, written to ``results/NN_name.json`` when the lesson runs.

The decision guide (``docs/decision_guide.md``) cites these files, and a test checks every number it quotes
against them, so the guide cannot drift from what the lessons measured. Only a run on the course model writes the
file: a learner who reruns a lesson on a hub model gets its numbers printed, not recorded over the course's.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ftrag.claims import is_course_model
from ftrag.paths import repo_root

RESULTS_ENV = "FTRAG_RESULTS"  # where save_results writes instead of results/ (the tests set a temporary folder)


def results_dir() -> Path:
    """The committed results, ``results/``: what the decision guide and later lessons read."""
    return repo_root() / "results"


def output_dir() -> Path:
    """Where ``save_results`` writes: ``$FTRAG_RESULTS`` when set (the tests set it, so that running the suite
    changes nothing in the repository), else ``results/``."""
    override = os.environ.get(RESULTS_ENV, "").strip()
    return Path(override).expanduser() if override else results_dir()


def _clean(value, name: str):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) or hasattr(value, "item"):  # numpy and torch scalars too
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} is {value}: a results file holds measured, finite numbers")
        return round(value, 4)
    if isinstance(value, dict):
        return {str(k): _clean(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, f"{name}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"{name} is a {type(value).__name__}; use numbers, strings, lists and dicts")


def save_results(lesson: str, values: dict, model=None) -> None:
    """Write ``values`` (numbers rounded to 4 places) to ``results/<lesson>.json`` (or ``$FTRAG_RESULTS``) and say so.

    With ``model`` given and not the course model, nothing is written. Returns nothing, so a notebook cell that ends
    with this call shows only the printed line.
    """

    if not isinstance(lesson, str) or not lesson or "/" in lesson:
        raise ValueError(f"lesson must be a file stem like '05_finetune_or_rag', got {lesson!r}")
    if not isinstance(values, dict) or not values:
        raise ValueError("values must be a non-empty dict of the lesson's measured numbers")
    if model is not None and not is_course_model(model):
        print(f"results/{lesson}.json not written: these numbers come from another model than the course model")
        return
    path = output_dir() / f"{lesson}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")  # then renamed: a test reading the file never sees half of it
    tmp.write_text(json.dumps(_clean(values, lesson), indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    shown = path.relative_to(repo_root()) if path.is_relative_to(repo_root()) else path
    print(f"wrote {shown.as_posix()} ({len(values)} values)")


def load_results(lesson: str) -> dict:
    """The numbers a lesson recorded (``results/<lesson>.json``); a clear error if it has not run yet."""
    path = results_dir() / f"{lesson}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the lesson's notebook (or `python -m ftrag.course.refresh "
                                f"notebooks/{lesson}.ipynb`) to record its results")
    return json.loads(path.read_text())
