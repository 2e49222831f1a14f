"""Colab badges and the Colab install cell, derived from ``colab/release.toml``: ``python -m ftrag.course.colab``.

The course's GitHub home and the release learners open are in ``colab/release.toml`` and nowhere else. The tool
reads that file; ``--repo`` and ``--ref`` write it and rewrite every notebook's badge and install cell (``--check``
only reports). The install cell clones the release and runs ``colab/install.py``, which installs the course with
``colab/constraints.txt`` (the pinned versions) and leaves Colab's torch alone.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ftrag.cli import arg, parse, parser_for, switch
from ftrag.paths import repo_root

RELEASE_FILE = ("colab", "release.toml")  # inside the course repository


def _release_path() -> Path:

    return repo_root().joinpath(*RELEASE_FILE)


def release(path: Path | None = None) -> tuple[str, str]:
    """``(OWNER/REPO, ref)`` from the release file (``colab/release.toml`` of the course repository)."""
    path = path or _release_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: write it with `python -m ftrag.course.colab --repo OWNER/REPO "
                                f"--ref TAG`")
    config = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()  # two TOML lines, key = "value" (read by hand: Python 3.10 has no tomllib)
        if not line:
            continue
        found = re.fullmatch(r'(\w+)\s*=\s*"([^"]*)"', line)
        if not found:
            raise ValueError(f'{path.name}, line {number}: expected key = "value", got {raw!r}')
        config[found[1]] = found[2]
    missing = [key for key in ("repo", "ref") if not config.get(key)]
    if missing:
        raise ValueError(f"{path.name} must set {' and '.join(missing)} (e.g. repo = \"OWNER/REPO\", ref = \"v0.1.0\")")
    return config["repo"], config["ref"]


def _or_release(repo: str | None, ref: str | None) -> tuple[str, str]:
    """``(repo, ref)`` as given, or the release file's when either is missing."""
    return (repo, ref) if repo is not None and ref is not None else release()


NOTEBOOK_DIRS = ("notebooks", "labs", "solutions")
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
_BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)]*\)")
INSTALL_MARKER = "# Colab only:"


def badge(relpath: str, repo: str | None = None, ref: str | None = None) -> str:
    """The Markdown Colab badge for the notebook at ``relpath`` (relative to the repo root); default: the release."""
    repo, ref = _or_release(repo, ref)
    return f"[![Open In Colab]({BADGE_IMG})](https://colab.research.google.com/github/{repo}/blob/{ref}/{relpath})"


def install_cell(repo: str | None = None, ref: str | None = None) -> str:
    """Source of every notebook's first code cell: installs the course on Colab, does nothing elsewhere."""
    repo, ref = _or_release(repo, ref)
    home = f"/content/{repo.split('/')[1]}"
    return (
        f"{INSTALL_MARKER} fetch the course (data, course model, helpers) at a pinned release and install it\n"
        "# with the versions the outputs were made with. Colab's torch is not reinstalled.\n"
        "# Locally this cell does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import os\n"
        "\n"
        f'    repo, ref, home = "{repo}", "{ref}", "{home}"\n'
        "    if not os.path.isdir(home):\n"
        "        !git clone --quiet --depth 1 --branch {ref} https://github.com/{repo} {home}\n"
        "    if not os.path.isdir(home):\n"
        '        raise RuntimeError(f"could not clone {repo} at {ref}: the repository or the tag does not "\n'
        '                           "exist, or is not public yet. Open the notebook from the course\'s own "\n'
        '                           "GitHub page, or see the README, \'Before the first release\'.")\n'
        "    !{sys.executable} {home}/colab/install.py"
    )


def notebook_paths(root: Path) -> list[Path]:
    """Every course notebook (lessons, labs, solutions), sorted."""
    return sorted(p for d in NOTEBOOK_DIRS for p in (root / d).glob("*.ipynb"))


def problems(nb: dict, relpath: str, repo: str | None = None, ref: str | None = None) -> list[str]:
    """What is wrong with a notebook's badge and install cell (empty when all is right)."""
    repo, ref = _or_release(repo, ref)
    cells = nb.get("cells", [])
    found: list[str] = []
    first_md = next((c for c in cells if c["cell_type"] == "markdown"), None)
    first_code = next((c for c in cells if c["cell_type"] == "code"), None)
    if first_md is None or badge(relpath, repo, ref) not in "".join(first_md["source"]):
        found.append(f"{relpath}: the first markdown cell lacks the badge {badge(relpath, repo, ref)}")
    if first_code is None or "".join(first_code["source"]) != install_cell(repo, ref):
        found.append(f"{relpath}: the first code cell is not the Colab install cell")
    return found


def rewrite(nb: dict, relpath: str, repo: str | None = None, ref: str | None = None) -> dict:
    """Put the right badge into the first markdown cell and the install cell first among code cells."""
    repo, ref = _or_release(repo, ref)
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


def save_release(repo: str, ref: str, path: Path | None = None) -> None:
    """Write the release file (the only place the repository and the release are kept)."""
    path = path or _release_path()
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    comments = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    path.write_text(f'{comments}repo = "{repo}"\nref = "{ref}"\n', encoding="utf-8")


@dataclass
class ColabArgs:
    """The flags of ``python -m ftrag.course.colab``; --repo and --ref default to colab/release.toml's (``main``)."""

    repo: str | None = arg(None, "OWNER/REPO on GitHub (saved in colab/release.toml)")
    ref: str | None = arg(None, "git tag or branch Colab should use (saved in colab/release.toml)")
    check: bool = switch("only report notebooks whose badge or cell is wrong")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.colab [--repo OWNER/REPO --ref TAG]``: rewrite (``--check``: check) every notebook."""
    import nbformat

    parser = parser_for(ColabArgs, prog="python -m ftrag.course.colab",
                        description="Rewrite (or check) every notebook's Colab badge and install cell.")
    repo, ref = release()
    parser.set_defaults(repo=repo, ref=ref)  # the release file's, read when the tool starts
    (args,) = parse(parser, argv)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", args.repo):
        parser.error(f"--repo must look like OWNER/REPO, got {args.repo!r}")
    if not re.fullmatch(r"[\w./-]+", args.ref):
        parser.error(f"--ref must be a git tag or branch name, got {args.ref!r}")
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
    if not args.check and (args.repo, args.ref) != (repo, ref):
        save_release(args.repo, args.ref)
        print(f"saved repo = {args.repo!r}, ref = {args.ref!r} in colab/release.toml")
    for line in bad:
        print(line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
