"""Gold questions for your documents: a CSV or JSONL file with ``question``, ``answer`` and ``file`` (the document
that answers it, as its path inside the folder), and optionally ``kind`` (e.g. lexical / paraphrased).

Every row is checked before anything is measured: a missing column, an empty cell, a file the folder does not
hold, a repeated question, and an answer that is not written in its file (the oracle and the scores need it there,
word for word up to case and punctuation) each stop with the row's number and what to do.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Sequence
from pathlib import Path

from ftrag.files import read_jsonl

REQUIRED = ("question", "answer", "file")
FEW = 20  # fewer questions than this: every rate moves by 5 points or more per question, say so


def words(text: str) -> str:
    """Lower-cased words and numbers, space-separated and padded: ``" pow 2 n "`` for ``"pow(2,n)"``."""
    return f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "


def contains(text: str, answer: str) -> bool:
    """Whether ``answer``'s words occur in ``text`` as a run of whole words (case and punctuation ignored)."""
    return bool(words(answer).strip()) and words(answer) in words(text)


def _read_rows(path: Path) -> list[dict]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in REQUIRED if c not in columns]
            if missing:
                raise ValueError(f"{path.name} lacks the column(s) {missing}: its header is {columns}; the first line "
                                 f"must name {list(REQUIRED)} (and optionally kind)")
            rows = []
            for number, row in enumerate(reader, 2):
                if None in row:  # DictReader keeps the cells past the header's under the key None
                    raise ValueError(f"{path.name}, row {number}: {len(columns) + len(row[None])} cells for "
                                     f"{len(columns)} columns; a comma inside a question or answer? put that cell "
                                     f'in double quotes ("Under GPL 3, how long...?")')
                rows.append({(k or "").strip(): (v or "").strip() for k, v in row.items()})
            return rows
    if suffix == ".jsonl":
        return [{k: str(v).strip() for k, v in row.items()} for row in read_jsonl(path)]
    raise ValueError(f"{path.name}: the questions file must be .csv or .jsonl, got {suffix or 'no suffix'!r}")


def load_questions(path: str | Path, docs: Sequence[dict], *, quiet: bool = False) -> list[dict]:
    """The checked rows of ``path`` for the documents ``docs`` (``load_folder``'s): question, answer, file, kind."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: write a questions file (columns {', '.join(REQUIRED)}; "
                                f"docs/your_documents.md shows how, docs/questions_template.csv is a start)")
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path.name} has no questions: add one row per question under the header")
    texts = {d["doc_id"]: d["text"] for d in docs}
    out, seen = [], {}
    for number, row in enumerate(rows, 2 if path.suffix.lower() == ".csv" else 1):
        where = f"{path.name}, {'row' if path.suffix.lower() == '.csv' else 'line'} {number}"
        missing = [c for c in REQUIRED if not row.get(c)]
        if missing:
            raise ValueError(f"{where}: empty {', '.join(missing)}; every row needs {', '.join(REQUIRED)}")
        file = row["file"]
        if file not in texts:
            same_name = [d for d in texts if d.rsplit("/", 1)[-1] == file.rsplit("/", 1)[-1]]
            close = same_name or difflib.get_close_matches(file, list(texts), n=3)
            hint = f"; did you mean {close}?" if close else " (give its path inside the documents folder)"
            raise ValueError(f"{where}: the folder holds no document {file!r}{hint}")
        if not contains(texts[file], row["answer"]):
            raise ValueError(f"{where}: the answer {row['answer']!r} is not written in {file}; copy the answer from "
                             f"the text (case and punctuation may differ), or name the file that holds it")
        key = words(row["question"])
        if key in seen:
            raise ValueError(f"{where}: the same question as row {seen[key]}; each question once")
        seen[key] = number
        out.append({"question": row["question"], "answer": row["answer"], "file": file,
                    "kind": row.get("kind") or "unlabelled"})
    if not quiet:
        kinds = sorted({r["kind"] for r in out})
        print(f"{path.name}: {len(out)} questions about {len({r['file'] for r in out})} documents; kinds: {kinds}")
        if len(out) < FEW:
            print(f"  only {len(out)} questions: each one moves a rate by {1 / len(out):.0%}; write {FEW} to 50")
    return out
