"""Colab badges and the Colab install cell, all derived from the two constants below.

The course's GitHub home and release are defined here and nowhere else. After changing them, run
``python -m ftrag.colab`` to rewrite every notebook's badge and install cell (``--check`` only reports).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = "ftrag-course/fine-tune-or-rag"  # OWNER/REPO on GitHub
REF = "v0.1.0"  # the git tag (or branch) that Colab users open and install: pin a release, not a moving branch

NOTEBOOK_DIRS = ("notebooks", "labs", "solutions")
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
_BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)]*\)")
INSTALL_MARKER = "# Colab only:"


def badge(relpath: str, repo: str = REPO, ref: str = REF) -> str:
    """The Markdown Colab badge for the notebook at ``relpath`` (relative to the repo root)."""
    return f"[![Open In Colab]({BADGE_IMG})](https://colab.research.google.com/github/{repo}/blob/{ref}/{relpath})"


def install_cell(repo: str = REPO, ref: str = REF) -> str:
    """Source of every notebook's first code cell: installs the course on Colab, does nothing elsewhere."""
    home = f"/content/{repo.split('/')[1]}"
    return (
        f"{INSTALL_MARKER} fetch the course (data, course model, helpers) at a pinned release.\n"
        "# Torch is already on Colab and is not reinstalled. Locally this cell does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    repo, ref, home = "{repo}", "{ref}", "{home}"\n'
        "    ![ -d {home} ] || git clone --quiet --depth 1 --branch {ref} https://github.com/{repo} {home}\n"
        "    %pip install --quiet {home}"
    )


def notebook_paths(root: Path) -> list[Path]:
    """Every course notebook (lessons, labs, solutions), sorted."""
    return sorted(p for d in NOTEBOOK_DIRS for p in (root / d).glob("*.ipynb"))


def problems(nb: dict, relpath: str, repo: str = REPO, ref: str = REF) -> list[str]:
    """What is wrong with a notebook's badge and install cell (empty when all is right)."""
    cells = nb.get("cells", [])
    found: list[str] = []
    first_md = next((c for c in cells if c["cell_type"] == "markdown"), None)
    first_code = next((c for c in cells if c["cell_type"] == "code"), None)
    if first_md is None or badge(relpath, repo, ref) not in "".join(first_md["source"]):
        found.append(f"{relpath}: the first markdown cell lacks the badge {badge(relpath, repo, ref)}")
    if first_code is None or "".join(first_code["source"]) != install_cell(repo, ref):
        found.append(f"{relpath}: the first code cell is not the Colab install cell")
    return found


def rewrite(nb: dict, relpath: str, repo: str = REPO, ref: str = REF) -> dict:
    """Put the right badge into the first markdown cell and the install cell first among code cells."""
    cells = nb["cells"]
    first_md = next(c for c in cells if c["cell_type"] == "markdown")
    text = "".join(first_md["source"])
    new_badge = badge(relpath, repo, ref)
    if _BADGE_RE.search(text):
        text = _BADGE_RE.sub(lambda _: new_badge, text, count=1)
    else:  # badge goes right under the title line
        head, _, rest = text.partition("\n")
        text = f"{head}\n\n{new_badge}\n{rest}"
    first_md["source"] = text
    first_code = next((c for c in cells if c["cell_type"] == "code"), None)
    if first_code is not None and "".join(first_code["source"]).startswith(INSTALL_MARKER):
        first_code["source"] = install_cell(repo, ref)
    return nb


def _set_constants(repo: str, ref: str) -> None:
    """Rewrite REPO and REF at the top of this file, the one place they live."""
    path = Path(__file__)
    text = path.read_text()
    text = re.sub(r'^REPO = "[^"]*"', f'REPO = "{repo}"', text, count=1, flags=re.M)
    text = re.sub(r'^REF = "[^"]*"', f'REF = "{ref}"', text, count=1, flags=re.M)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    import nbformat

    from ftrag.paths import repo_root

    parser = argparse.ArgumentParser(description="Rewrite (or check) every notebook's Colab badge and install cell.")
    parser.add_argument("--repo", default=REPO, help="OWNER/REPO on GitHub (saved in ftrag/colab.py)")
    parser.add_argument("--ref", default=REF, help="git tag or branch Colab should use (saved in ftrag/colab.py)")
    parser.add_argument("--check", action="store_true", help="only report notebooks whose badge or cell is wrong")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", args.repo):
        parser.error(f"--repo must look like OWNER/REPO, got {args.repo!r}")
    root = repo_root()
    bad: list[str] = []
    for path in notebook_paths(root):
        rel = path.relative_to(root).as_posix()
        nb = nbformat.read(path, as_version=4)
        if args.check:
            bad += problems(nb, rel, args.repo, args.ref)
            continue
        before = nbformat.writes(nb)
        nb = rewrite(nb, rel, args.repo, args.ref)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            print(f"rewrote {rel}")
    if not args.check and (args.repo, args.ref) != (REPO, REF):
        _set_constants(args.repo, args.ref)
        print(f"saved REPO={args.repo!r} REF={args.ref!r} in ftrag/colab.py")
    for line in bad:
        print(line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
