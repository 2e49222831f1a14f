"""Reading the course's data files: JSONL rows and corpus examples (plain or xz-compressed); writing the pages
the course generates from them (labs, agendas, notes) only where they changed."""

from __future__ import annotations

import hashlib
import json
import lzma
from pathlib import Path

from ftrag.paths import data_path


def _resolve(path: str | Path, parts: tuple[str, ...]) -> Path:
    """A path inside data/ (``read_jsonl("knowledge", "qa.jsonl")``) or any existing file path."""
    if parts or not Path(path).is_absolute() and not Path(path).exists():
        return data_path(str(path), *parts)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} does not exist")
    return Path(path)


def read_jsonl(path: str | Path, *parts: str) -> list[dict]:
    """Rows of a JSONL file; a malformed line raises an error naming the file and line."""
    file = _resolve(path, parts)
    rows = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{file.name}, line {number}: not valid JSON ({exc.msg}); fix or regenerate the file "
                             f"(`python -m ftrag.world` for the course data)") from exc
        if not isinstance(row, dict):
            raise ValueError(f"{file.name}, line {number}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def read_examples(path: str | Path, *parts: str, limit: int = 0) -> list[str]:
    """Examples of a corpus file (.txt or .txt.xz), separated by one blank line (the first ``limit`` if set)."""
    file = _resolve(path, parts)
    opener = lzma.open if file.suffix == ".xz" else open
    with opener(file, "rt", encoding="utf-8") as f:
        examples = [e.strip() for e in f.read().split("\n\n") if e.strip()]
    return examples[:limit] if limit else examples


XZ_PRESET = 6  # what the committed .xz files were compressed with


def write_text(path: str | Path, text: str, *, xz_preset: int = XZ_PRESET) -> None:
    """Write ``text`` as UTF-8 with ``\\n`` line ends, xz-compressed when ``path`` ends in ``.xz``.

    The xz stream has no timestamp, so the same text gives the same bytes with the same liblzma and preset; a lower
    ``xz_preset`` is faster and gives other bytes for the same text (``content_sha256`` compares the text).
    """
    path = Path(path)
    opener = lzma.open(path, "wt", preset=xz_preset, encoding="utf-8", newline="\n") if path.suffix == ".xz" \
        else open(path, "w", encoding="utf-8", newline="\n")
    with opener as f:
        f.write(text)


def content_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's content: of the decompressed bytes for ``.xz``, else of the file."""
    path = Path(path)
    if path.suffix != ".xz":
        return sha256(path)
    with lzma.open(path, "rb") as f:
        return _stream_sha256(f)


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    with open(path, "rb") as f:
        return _stream_sha256(f)


def _stream_sha256(f) -> str:
    """Hex SHA-256 of what a binary file object reads, in 1 MB blocks."""
    digest = hashlib.sha256()
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def sync_generated(pages: dict[Path, str], root: Path, *, check: bool) -> list[str]:
    """Paths (relative to ``root``) of ``pages`` whose file differs from the text; unless ``check``, write them.

    The one write-or-compare loop behind every generator's ``--check`` (``ftrag.course.labs``,
    ``ftrag.course.workshop``).
    """
    stale = []
    for path, text in pages.items():
        if path.is_file() and path.read_text() == text:
            continue
        stale.append(path.relative_to(root).as_posix())
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {stale[-1]}")
    return stale
