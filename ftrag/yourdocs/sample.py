"""The sample corpus that ships: the Python language reference's topics, as every CPython installation carries
them (``pydoc_data.topics``, the text ``help("assert")`` shows; PSF licence), one document per topic, and gold
questions written for it (``data/pydoc/questions.csv``).

``python -m ftrag.yourdocs.sample`` writes ``data/pydoc/topics/<topic>.txt`` from the running Python. The files
are committed: another Python version's topics differ in wording (3.11's "New in version" is 3.13's "Added in
version"), and the gold questions' answers are checked against these files, not against the learner's Python.
"""

from __future__ import annotations

import platform
from pathlib import Path
from pydoc_data import topics

from ftrag.paths import data_path

SAMPLE = ("pydoc", "topics")
QUESTIONS = ("pydoc", "questions.csv")


def sample_folder() -> Path:
    """``data/pydoc/topics``: the sample corpus (79 documents of Python 3.11's reference topics)."""
    return data_path(*SAMPLE)


def sample_questions() -> Path:
    """``data/pydoc/questions.csv``: 60 gold questions about the sample corpus."""
    return data_path(*QUESTIONS)


def export_topics(out: Path) -> int:
    """Write each of ``pydoc_data.topics``'s topics to ``out/<topic>.txt``; return how many."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(topics.topics.items()):
        (out / f"{name}.txt").write_text(text.strip() + "\n", encoding="utf-8", newline="\n")
    return len(topics.topics)


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.yourdocs.sample``: rewrite data/pydoc/topics from this Python's pydoc_data."""
    if argv:
        raise SystemExit("python -m ftrag.yourdocs.sample takes no arguments (it rewrites data/pydoc/topics)")
    out = data_path("pydoc", must_exist=False) / "topics"
    n = export_topics(out)
    print(f"wrote {n} topics of Python {platform.python_version()} to {out}; then run "
          f"`python -m ftrag.world --manifest-only` (the data manifest) and check data/pydoc/questions.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
