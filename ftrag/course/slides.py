"""Every lesson as a reveal.js slide deck: ``python -m ftrag.course.slides`` (decks in ``build/slides/``).

Each lesson notebook carries slideshow metadata (``cell.metadata.slideshow.slide_type``), set by one rule so the
decks stay consistent when a lesson changes: a ``#`` or ``##`` heading starts a slide; a ``###`` heading, or any
other text that follows code, starts a sub-slide (reveal.js shows sub-slides below their slide: press the down
arrow), so each explanation appears with the code and output it explains; the Colab install cell is skipped, and
every other cell joins the slide above it. ``authoring/nb.py`` applies the rule when it builds a
lesson; ``python -m ftrag.course.slides --tag`` applies it to the committed lessons, and a test fails when a lesson's
metadata disagrees with the rule. The decks are built with ``jupyter nbconvert --to slides``, outputs included,
so a deck shows the measured numbers of the committed run; open one in a browser. reveal.js itself is loaded
from a CDN; without internet, pass ``--reveal-prefix`` a local copy of reveal.js 4, or present the notebook in
JupyterLab.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ftrag.cli import arg, parse, parser_for, positional, switch
from ftrag.paths import repo_root

SLIDE, SUBSLIDE, SKIP, SAME = "slide", "subslide", "skip", "-"


def slide_type(cell, previous=None) -> str:
    """The rule: the slide type of ``cell``, given the cell before it (``None`` for the first)."""
    source = cell.source.lstrip()
    if cell.cell_type == "markdown":
        if re.match(r"#{1,2} ", source):
            return SLIDE
        if source.startswith("### ") or (previous is not None and previous.cell_type == "code"):
            return SUBSLIDE
        return SAME
    if cell.cell_type == "code" and "google.colab" in source and "git clone" in source:
        return SKIP  # the Colab install cell: nothing to show in a talk
    return SAME


def problems(nb) -> list[str]:
    """Cells whose slideshow metadata disagrees with the rule."""
    found = []
    for number, (cell, expected) in enumerate(zip(nb.cells, _types(nb), strict=True), 1):
        actual = cell.metadata.get("slideshow", {}).get("slide_type")
        if actual != expected:
            found.append(f"cell {number}: slide_type {actual!r}, the rule says {expected!r}")
    return found


def _types(nb) -> list[str]:
    return [slide_type(cell, nb.cells[i - 1] if i else None) for i, cell in enumerate(nb.cells)]


def tag(nb):
    """Set every cell's slideshow metadata by the rule (in place); returns ``nb``."""
    for cell, kind in zip(nb.cells, _types(nb), strict=True):
        cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


def expected_slides(nb) -> int:
    """How many top-level slides the deck of ``nb`` has."""
    return _types(nb).count(SLIDE)


def expected_subslides(nb) -> int:
    return _types(nb).count(SUBSLIDE)


def lesson_paths(root: Path | None = None) -> list[Path]:
    root = root or repo_root()
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def build(notebook: Path, out_dir: Path, reveal_prefix: str | None = None) -> Path:
    """Build one deck with ``jupyter nbconvert --to slides``; return the HTML file."""
    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"{notebook} does not exist; the lessons are notebooks/NN_*.ipynb")
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "slides", "--output-dir", str(out_dir),
           "--SlidesExporter.reveal_scroll=True", str(notebook)]
    if reveal_prefix:  # a local copy of reveal.js, for a room without internet
        cmd.insert(-1, f"--SlidesExporter.reveal_url_prefix={reveal_prefix}")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbconvert failed on {notebook.name}:\n{done.stderr.strip()[-2000:]}")
    return out_dir / f"{notebook.stem}.slides.html"


def count_slides(html: str) -> int:
    """Top-level slides in a reveal.js deck written by nbconvert (each is a ``<section>`` of sub-slide sections)."""
    depth, top = 0, 0
    for match in re.finditer(r"<(/?)section\b", html):
        if match.group(1):
            depth -= 1
        else:
            top += depth == 0
            depth += 1
    return top


@dataclass
class SlidesArgs:
    """The flags of ``python -m ftrag.course.slides``."""

    paths: list[Path] = positional("lessons to build (default: all of notebooks/)")
    out: Path | None = arg(None, "output folder (default: build/slides)")
    reveal_prefix: str | None = arg(None, "where the decks load reveal.js from (default: a CDN); e.g. a relative "
                                          "path to an unpacked reveal.js 4 release, for a room without internet",
                                    metavar="URL")
    tag: bool = switch("only (re)write the lessons' slideshow metadata")
    check: bool = switch("only report lessons whose metadata breaks the rule")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.slides [LESSON ...]``: build the decks (``--tag``, ``--check``: the metadata only)."""
    parser = parser_for(SlidesArgs, prog="python -m ftrag.course.slides",
                        description="Build each lesson into a reveal.js deck (build/slides/).")
    (args,) = parse(parser, argv)
    paths = [p.resolve() for p in args.paths] or lesson_paths()
    if args.tag or args.check:
        bad = 0
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            found = problems(nb)
            if args.tag and found:
                nbformat.write(tag(nb), path)
                print(f"tagged {path.name} ({len(found)} cells changed)")
            elif found:
                bad += 1
                print(f"{path.name}: {len(found)} cells break the rule, e.g. {found[0]}; "
                      "run `python -m ftrag.course.slides --tag`")
        return 1 if bad else 0
    out = args.out or repo_root() / "build" / "slides"
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if problems(nb):
            print(f"{path.name} has no or stale slideshow metadata: run `python -m ftrag.course.slides --tag` first")
            return 1
        deck = build(path, out, args.reveal_prefix)
        print(f"{deck.relative_to(repo_root()) if deck.is_relative_to(repo_root()) else deck}: "
              f"{count_slides(deck.read_text())} slides")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
