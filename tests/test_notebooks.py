"""Course-wide notebook rules: badges, install cells, headers, executed lessons, labs in sync and checks that bite."""

import re
from pathlib import Path

import nbformat
import pytest

from ftrag.course import colab, labs
from ftrag.paths import repo_root

ROOT = repo_root()
ALL = colab.notebook_paths(ROOT)
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
_CHECK_CALL = re.compile(r"^check_\w+\(", re.M)


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_there_are_notebooks_and_every_solution_has_a_lab():
    assert ALL, "no notebooks found"
    assert {p.name for p in SOLUTIONS} == {p.name for p in (ROOT / "labs").glob("*.ipynb")}


@pytest.mark.parametrize("path", ALL, ids=_rel)
def test_badge_and_install_cell_match_the_file(path):
    problems = colab.problems(nbformat.read(path, as_version=4), _rel(path))
    assert not problems, "\n".join(problems) + "\nFix: python -m ftrag.course.colab"


@pytest.mark.parametrize("path", ALL, ids=_rel)
def test_first_cell_has_title_time_and_prerequisites(path):
    nb = nbformat.read(path, as_version=4)
    first = "".join(nb.cells[0].source)
    assert nb.cells[0].cell_type == "markdown" and first.startswith("# ")
    assert "**Time:**" in first and "**Prerequisites:**" in first, f"{_rel(path)}: state time and prerequisites"


@pytest.mark.parametrize("path", [p for p in ALL if p.parent.name != "labs"], ids=_rel)
def test_lessons_and_solutions_are_executed(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.execution_count is not None for c in code), "run `python -m ftrag.course.refresh` to execute it"


def test_badge_of_a_moved_notebook_is_caught():
    nb = nbformat.read(ALL[0], as_version=4)
    assert colab.problems(nb, "notebooks/99_elsewhere.ipynb")


@pytest.mark.parametrize("solution", SOLUTIONS, ids=_rel)
def test_lab_is_generated_from_its_solution(solution):
    lab_path, text = labs.lab_text(solution, ROOT)
    assert lab_path.exists() and lab_path.read_text() == text, \
        f"{_rel(lab_path)} is stale: run python -m ftrag.course.labs"


@pytest.mark.slow  # executes each lab
@pytest.mark.parametrize("solution", SOLUTIONS, ids=_rel)
def test_every_check_rejects_the_untouched_lab(solution):
    """Run the lab as a learner who fills in nothing: every check cell must fail with its own message."""
    from nbclient import NotebookClient

    lab_path = ROOT / "labs" / solution.name
    nb = nbformat.read(lab_path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(lab_path.parent)}}).execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and _CHECK_CALL.search(c.source)]
    assert checks, f"{_rel(lab_path)} has no check cells"
    for cell in checks:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert errors and errors[0].ename == "CheckFailed", (
            f"{_rel(lab_path)}: check cell did not reject the stub:\n{cell.source}\noutputs: {cell.outputs}")
