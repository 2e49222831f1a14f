"""Build a notebook from its source script: ``python authoring/nb.py authoring/02_json_finetuning.py``.

The lessons and solutions are written as plain Python files in the "percent" format that editors understand (VS
Code, PyCharm, jupytext): a line ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell whose lines are
comments (``# `` is removed), ``# %% tags=parameters`` tags a code cell, and ``# %% colab-install`` stands for the
Colab install cell (``ftrag.colab.install_cell()``; the badge is set by ``ftrag.colab.rewrite``). The first line of
the file, ``# notebook: notebooks/02_json_finetuning.ipynb``, names the notebook it builds; a lesson gets its
slideshow metadata (``ftrag.slides``). The notebook is written
without outputs; ``python -m ftrag.refresh PATH`` then executes it (the only way reference outputs are made).

Sources diff and review better than JSON, and they are the record of what a lesson was meant to say.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from ftrag import colab, slides

ROOT = Path(__file__).resolve().parents[1]


def cells_of(text: str) -> tuple[str, list]:
    lines = text.split("\n")
    if not lines[0].startswith("# notebook: "):
        raise ValueError("the first line must be '# notebook: RELATIVE/PATH.ipynb'")
    target = lines[0].removeprefix("# notebook: ").strip()
    cells, kind, tags, body = [], None, [], []

    def flush():
        if kind is None:  # before the first cell, or after a generated one (its lines are ignored)
            return
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        if kind == "markdown":
            source = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body)
            cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell("\n".join(body))
            if tags:
                cell.metadata["tags"] = tags
            cells.append(cell)

    for line in lines[1:]:
        if line.startswith("# %%"):
            flush()
            rest = line[4:].strip()
            kind = "markdown" if rest.startswith("[markdown]") else "code"
            if rest == "colab-install":
                cells.append(nbformat.v4.new_code_cell(colab.install_cell()))
                kind = None
            tags = rest.removeprefix("tags=").split(",") if rest.startswith("tags=") else []
            body = []
        else:
            body.append(line)
    flush()
    return target, cells


def build(source: Path) -> Path:
    target, cells = cells_of(source.read_text())
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python", "pygments_lexer": "ipython3"}}
    for number, cell in enumerate(nb.cells):  # stable ids: a rebuild changes only the cells that changed
        cell.id = f"cell-{number:03d}"
    if target.startswith("notebooks/"):  # lessons carry slideshow metadata (python -m ftrag.slides builds decks)
        slides.tag(nb)
    out = ROOT / target
    nbformat.write(colab.rewrite(nb, target), out)
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(build(Path(arg)))
