"""Build a notebook from its source script: ``python authoring/nb.py authoring/02_json_finetuning.py``.

Every lesson and solution is written as a Python file in jupytext's "percent" format, which editors understand
(VS Code, PyCharm, JupyterLab with jupytext): ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell whose
lines are comments, ``# %% tags=["parameters"]`` tags a code cell, and ``# %% colab-install`` stands for the Colab
install cell (``ftrag.course.colab.install_cell()``; the badge is set by ``ftrag.course.colab.rewrite``). jupytext reads the
cells; this script adds what is the course's own: the first line of the file,
``# notebook: notebooks/02_json_finetuning.ipynb``, names the notebook it builds; the install cell; stable cell ids;
a lesson's slideshow metadata (``ftrag.course.slides``). The notebook is written without outputs;
``python -m ftrag.course.refresh PATH`` then executes it (the only way reference outputs are made).

Sources diff and review better than JSON, and they are the record of what a lesson was meant to say.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat

from ftrag.course import colab, slides

ROOT = Path(__file__).resolve().parents[1]
INSTALL = "colab-install"  # the title of the cell that stands for the Colab install cell
# What jupytext records about the text's layout (blank lines between cells), not about the notebook.
LAYOUT = ("lines_to_next_cell", "lines_to_end_of_cell_marker", "cell_marker")


def cells_of(text: str) -> tuple[str, list]:
    """``(target notebook, cells)`` of a source: jupytext's cells, the install cell put in, only tags kept."""
    first, _, body = text.partition("\n")
    if not first.startswith("# notebook: "):
        raise ValueError("the first line must be '# notebook: RELATIVE/PATH.ipynb'")
    target = first.removeprefix("# notebook: ").strip()
    cells = []
    for number, cell in enumerate(jupytext.reads(body, fmt="py:percent").cells):
        meta = dict(cell.metadata)
        if meta.pop("title", None) == INSTALL:
            cells.append(nbformat.v4.new_code_cell(colab.install_cell()))
            continue
        tags = meta.pop("tags", [])
        for key in LAYOUT:
            meta.pop(key, None)
        if meta or cell.metadata.get("title"):
            raise ValueError(f"{target}, cell {number}: unknown cell marker {dict(cell.metadata)} (write "
                             f"'# %% [markdown]', '# %% tags=[\"parameters\"]' or '# %% {INSTALL}')")
        new = (nbformat.v4.new_markdown_cell if cell.cell_type == "markdown" else nbformat.v4.new_code_cell)(
            cell.source)
        if tags:
            new.metadata["tags"] = tags
        cells.append(new)
    return target, cells


def build(source: Path) -> Path:
    target, cells = cells_of(source.read_text())
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python", "pygments_lexer": "ipython3"}}
    for number, cell in enumerate(nb.cells):  # stable ids: a rebuild changes only the cells that changed
        cell.id = f"cell-{number:03d}"
    if target.startswith("notebooks/"):  # lessons carry slideshow metadata (python -m ftrag.course.slides builds decks)
        slides.tag(nb)
    out = ROOT / target
    nbformat.write(colab.rewrite(nb, target), out)
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(build(Path(arg)))
