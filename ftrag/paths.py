"""Finding the course's files from wherever a notebook, a test or a Colab clone runs."""

from __future__ import annotations

import os
from pathlib import Path

# A folder is the course's data folder when it holds this marker file.
_DATA_MARKER = ".ftrag-data"
DATA_ENV = "FTRAG_DATA"


def _candidates() -> list[Path]:
    """Where ``data/`` may be, most specific first."""
    here = Path.cwd().resolve()
    found = [parent / "data" for parent in (here, *here.parents)]
    # An editable install (local, CI) has the package inside the repo, next to data/.
    found.append(Path(__file__).resolve().parents[1] / "data")
    # A Colab clone lives under /content/<repo>/ (see ftrag.course.colab).
    content = Path("/content")
    if content.is_dir():
        found.extend(sorted(content.glob("*/data")))
    return found


def data_dir() -> Path:
    """The course's ``data/`` folder (``FTRAG_DATA`` overrides the search)."""
    override = os.environ.get(DATA_ENV)
    if override:
        path = Path(override).expanduser().resolve()
        if not path.is_dir():
            raise FileNotFoundError(
                f"{DATA_ENV}={override!r} is not a folder. Point it at the course's data/ folder "
                f"(the one holding .ftrag-data), or unset it to let the course find data/ itself."
            )
        return path
    for path in _candidates():
        if path.is_dir() and (path / _DATA_MARKER).is_file():
            return path
    raise FileNotFoundError(
        "Could not find the course's data/ folder. Run the notebook from inside the course repository "
        "(notebooks/, labs/ or solutions/), or set FTRAG_DATA=/path/to/repo/data. "
        "On Colab, run the notebook's first code cell: it clones the course."
    )


def repo_root() -> Path:
    """The course repository (the folder that holds ``data/``)."""
    return data_dir().parent


def data_path(*parts: str, must_exist: bool = True) -> Path:
    """A path inside ``data/``; by default it must exist, and a missing file says what to do."""
    if not parts:
        raise ValueError("data_path() needs at least one path part, e.g. data_path('knowledge', 'docs.jsonl')")
    path = data_dir().joinpath(*parts)
    if must_exist and not path.exists():
        parent = path.parent
        nearby = sorted(p.name for p in parent.iterdir())[:12] if parent.is_dir() else []
        hint = f" {parent.name}/ holds: {', '.join(nearby)}." if nearby else ""
        raise FileNotFoundError(
            f"{'/'.join(parts)} is not in the course data ({path}).{hint} Check the spelling, or regenerate "
            f"the data with `python -m ftrag.world` (see data/README.md)."
        )
    return path
