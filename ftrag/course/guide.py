"""Write the decision guide's page (``docs/decision_guide.md``) and its printable handout from ``ftrag.decision``.

The pages' text, flow chart and print style are the templates ``ftrag/course/templates/decision_guide.{md,html}.j2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

from ftrag.cli import arg, parse, parser_for, switch
from ftrag.course.render import render
from ftrag.decision import (
    ROWS,
    carries_over_text,
    check,
    claims_table,
    fill,
    real_values,
    recorded_values,
    shown_rule,
)
from ftrag.paths import repo_root


def markdown(values: dict[str, dict] | None = None, real: dict[str, dict] | None = None) -> str:
    """The whole ``docs/decision_guide.md`` (``templates/decision_guide.md.j2``); raises if a row's rule fails.

    ``real``: the real model's numbers (``ftrag.decision.real_values``), for the column "carries over?"."""
    values = values if values is not None else recorded_values()
    check(values)
    real = real if real is not None else real_values(course=values)
    rows = [(s, d, fill(e, values), shown_rule(r, values), carries_over_text(r, real)) for s, d, e, r in ROWS]
    return render("decision_guide.md.j2", rows=rows, claims=claims_table(values), real_lessons=sorted(real))


def _cell(text: str) -> str:
    """A guide text as HTML: escaped, **bold** in <b>, other Markdown emphasis dropped."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(text)).replace("*", "")


def html(values: dict[str, dict] | None = None) -> str:
    """The guide as one printable page (A4 landscape): self-contained HTML, no scripts, no external files."""
    values = values if values is not None else recorded_values()
    check(values)
    rows = [(_cell(s), _cell(d), _cell(fill(e, values, links=False)), escape(shown_rule(r, values)))
            for s, d, e, r in ROWS]
    return render("decision_guide.html.j2", rows=rows)


def guide_path() -> Path:
    return repo_root() / "docs" / "decision_guide.md"


@dataclass
class GuideArgs:
    """The flags of ``python -m ftrag.course.guide``."""

    check: bool = switch("exit 1 if docs/decision_guide.md is out of date")
    # --html alone (nargs="?") writes to const; not given, html is None and the guide page is written
    html: Path | None = arg(None, "write the one-page printable handout instead (default FILE: "
                                  "build/decision_guide.html)", metavar="FILE", nargs="?",
                            const=Path("build/decision_guide.html"))


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.guide``: write docs/decision_guide.md from the results files (``--check``: only
    compare)."""
    parser = parser_for(GuideArgs, prog="python -m ftrag.course.guide",
                        description="Write the decision guide from the lessons' results files.")
    (args,) = parse(parser, argv)
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
