"""Write the decision guide's page (``docs/decision_guide.md``) and its printable handout from ``ftrag.decision``.

The pages' text, flow chart and print style are the templates ``ftrag/course/templates/decision_guide.{md,html}.j2``.
"""

from __future__ import annotations

import argparse
import re
from html import escape
from pathlib import Path

from ftrag.course.render import render
from ftrag.decision import ROWS, fill, recorded_values
from ftrag.paths import repo_root


def markdown(values: dict[str, dict] | None = None) -> str:
    """The whole ``docs/decision_guide.md`` (``templates/decision_guide.md.j2``)."""
    values = values if values is not None else recorded_values()
    return render("decision_guide.md.j2", rows=[(s, d, fill(e, values)) for s, d, e in ROWS])


def _cell(text: str) -> str:
    """A guide text as HTML: escaped, **bold** in <b>, other Markdown emphasis dropped."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(text)).replace("*", "")


def html(values: dict[str, dict] | None = None) -> str:
    """The guide as one printable page (A4 landscape): self-contained HTML, no scripts, no external files."""
    values = values if values is not None else recorded_values()
    rows = [(_cell(s), _cell(d), _cell(fill(e, values, links=False))) for s, d, e in ROWS]
    return render("decision_guide.html.j2", rows=rows)


def guide_path() -> Path:
    return repo_root() / "docs" / "decision_guide.md"


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.guide``: write docs/decision_guide.md from the results files (``--check``: only
    compare)."""

    parser = argparse.ArgumentParser(description="Write the decision guide from the lessons' results files.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/decision_guide.md is out of date")
    parser.add_argument("--html", type=Path, metavar="FILE", nargs="?", const=Path("build/decision_guide.html"),
                        help="write the one-page printable handout instead (default FILE: build/decision_guide.html)")
    args = parser.parse_args(argv)
    if args.html:
        out = args.html if args.html.is_absolute() else repo_root() / args.html
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html())
        print(f"wrote {out}: open it in a browser and print it (A4 landscape, one page)")
        return 0
    text = markdown()
    path = guide_path()
    if args.check:
        if not path.is_file() or path.read_text() != text:
            print(f"{path} disagrees with the results files: run `python -m ftrag.course.guide`")
            return 1
        print(f"{path} matches the results files")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
