"""Generate each lab from its solution: ``python -m ftrag.course.labs`` (``--check`` only reports differences).

In a solution notebook the answer is marked in one of two ways:

* a block inside a function, between ``### BEGIN SOLUTION`` and ``### END SOLUTION``: the lab keeps the
  indentation and gets ``raise NotImplementedError(...)`` instead;
* a one-line assignment ending in ``# SOLUTION``: the lab gets ``name = ...``.

Outputs are cleared and the badge points at the lab. The check cells stay as they are, so a learner who runs
the untouched lab sees each check fail with a message (a test proves that).
"""

from __future__ import annotations

import copy
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ftrag.cli import parse, parser_for, switch
from ftrag.course import colab
from ftrag.files import sync_generated
from ftrag.paths import repo_root

BEGIN, END, ONE_LINE = "### BEGIN SOLUTION", "### END SOLUTION", "# SOLUTION"
STUB_MESSAGE = "replace this line with your code"
_ASSIGN_RE = re.compile(r"^(?P<indent>\s*)(?P<target>[\w.\[\]'\", ]+?)\s*=\s*.+?\s*# SOLUTION\s*$")


class LabSyntaxError(ValueError):
    """A solution notebook marks its answers in a way the generator cannot turn into a lab."""


def strip_solution(source: str, where: str = "cell") -> str:
    """The lab version of one code cell's source."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise LabSyntaxError(f"{where}, line {number}: {BEGIN} inside another solution block")
            indent = line[: len(line) - len(line.lstrip())]
            if not indent:
                raise LabSyntaxError(
                    f"{where}, line {number}: a solution block must sit inside a function (indented), so the "
                    f"lab can replace it with `raise NotImplementedError`; for a top-level answer use a one-line "
                    f"`name = value  {ONE_LINE}`"
                )
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(f'{indent}raise NotImplementedError("{STUB_MESSAGE}")')
            inside = True
        elif stripped == END:
            if not inside:
                raise LabSyntaxError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif inside:
            continue
        elif line.rstrip().endswith(ONE_LINE):
            match = _ASSIGN_RE.match(line)
            if not match:
                raise LabSyntaxError(f"{where}, line {number}: `{ONE_LINE}` marks only assignments `name = value`")
            out.append(f"{match['indent']}{match['target']} = ...  # YOUR ANSWER HERE")
        else:
            out.append(line)
    if inside:
        raise LabSyntaxError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def make_lab(solution: dict, lab_relpath: str) -> dict:
    """The lab notebook for a solution notebook (a new dict; the solution is untouched)."""
    lab = copy.deepcopy(solution)
    for index, cell in enumerate(lab["cells"]):
        if cell["cell_type"] == "code":
            cell["source"] = strip_solution("".join(cell["source"]), f"{lab_relpath} cell {index}")
            cell["outputs"] = []
            cell["execution_count"] = None
            cell.get("metadata", {}).pop("execution", None)
    lab["metadata"].pop("widgets", None)
    return colab.rewrite(lab, lab_relpath)


def lab_text(solution_path: Path, root: Path) -> tuple[Path, str]:
    """Where the lab of ``solution_path`` goes, and its exact file contents."""
    import nbformat

    lab_path = root / "labs" / solution_path.name
    solution = nbformat.read(solution_path, as_version=4)
    lab = make_lab(solution, lab_path.relative_to(root).as_posix())
    return lab_path, nbformat.writes(nbformat.from_dict(lab)) + "\n"


@dataclass
class LabsArgs:
    """The flags of ``python -m ftrag.course.labs``."""

    check: bool = switch("write nothing; exit 1 if any lab is out of date")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.labs``: write every lab from its solution (``--check``: only compare)."""
    parser = parser_for(LabsArgs, prog="python -m ftrag.course.labs",
                        description="Generate labs/X.ipynb from solutions/X.ipynb.")
    (args,) = parse(parser, argv)
    root = repo_root()
    labs = dict(lab_text(path, root) for path in sorted((root / "solutions").glob("*.ipynb")))
    stale = sync_generated(labs, root, check=args.check)
    if args.check and stale:
        print("out of date (run `python -m ftrag.course.labs`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
