"""The data card, ``data/README.md``: the prose of ``data_card.md.j2`` and a table of every data file's size."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from jinja2 import StrictUndefined, Template

from ftrag.files import read_examples, read_jsonl

TOKENIZER = "models/course-lm/tokenizer.json"
TEMPLATE = "data_card.md.j2"  # the card's prose and table, beside this file: edit the text there


def _jsonl_text(row: dict) -> str:
    """The text a row contributes to training or prompts (its string values)."""
    return " ".join(str(v) for v in row.values() if isinstance(v, (str, list, dict)))


def sizes(root: Path) -> list[tuple[str, str, str, str]]:
    """(file, rows, characters, tokens) of every data set file under ``root``, formatted for the card's table."""
    tokenizer = None
    if (root / TOKENIZER).is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(root / TOKENIZER))
        tokenizer.no_padding()  # the saved tokenizer may pad a batch to its longest row; count real tokens only
        tokenizer.no_truncation()
    found = []
    for folder in ("world_a", "knowledge", "dialect", "json_task"):
        for path in sorted((root / folder).glob("*")):
            if path.suffix not in (".jsonl", ".xz", ".txt"):
                continue
            rows = [_jsonl_text(r) for r in read_jsonl(path)] if path.suffix == ".jsonl" else read_examples(path)
            chars = sum(len(r) for r in rows)
            tokens = (f"{sum(len(e.ids) for e in tokenizer.encode_batch(rows, add_special_tokens=False)):,}"
                      if tokenizer else "(no tokenizer yet)")
            found.append((path.relative_to(root).as_posix(), f"{len(rows):,}", f"{chars:,}", tokens))
    return found


def write(root: Path) -> Path:
    """Write ``root/README.md``."""
    path = root / "README.md"
    card = Template(files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8"), keep_trailing_newline=True,
                    trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)
    path.write_text(card.render(sizes=sizes(root)), encoding="utf-8")
    return path
