"""A simulated Colab install, checked: ``python colab/simulate.py`` (about 4 minutes; 3 GB in a temporary folder).

Colab has its own torch and its own numpy, pandas, matplotlib and Jupyter kernel before a notebook runs. This builds
a fresh virtual environment that has them (torch from ``--torch``, by default the CPU build that requirements.txt
pins, the one this machine has on disk), runs the install cell's command there (``colab/install.py``), and checks
that

1. torch was not touched (same version, same files),
2. every library of ``colab/constraints.txt`` landed at its pinned version,
3. lesson 00 runs to the end in that environment (executed in memory: nothing is written into the repository).

It prints a report and exits non-zero when a check fails. ``--torch "torch==2.9.1"`` simulates a Colab image with
another torch (pip then downloads it, a CUDA build of several GB on x86-64). ``--keep DIR`` keeps the environment.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# What a Colab image has before the course is installed, besides torch (versions: whatever pip picks today).
COLAB_STACK = ["numpy", "pandas", "matplotlib", "ipykernel", "nbclient", "nbformat"]
LESSON = ROOT / "notebooks" / "00_start_here.ipynb"

_RUN_LESSON = """
import os, sys, tempfile
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": os.path.dirname(sys.argv[1])}}).execute()
errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
print(f"{len(nb.cells)} cells executed, {len(errors)} errors")
sys.exit(1 if errors else 0)
"""


def _torch_pin() -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("torch=="):
            return line.strip()
    raise ValueError("requirements.txt pins no torch")


def _files_digest(python: Path, dist: str) -> str:
    """A digest of an installed distribution's RECORD (its files and their hashes)."""
    code = (f"from importlib import metadata; d = metadata.distribution({dist!r}); "
            "print(d.read_text('RECORD') or '')")
    record = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout
    return hashlib.sha256(record.encode()).hexdigest()[:16]


def _versions(python: Path, names: list[str]) -> dict[str, str | None]:
    code = ("import json, sys\nfrom importlib import metadata\nout = {}\nfor n in sys.argv[1:]:\n"
            "    try:\n        out[n] = metadata.version(n)\n    except metadata.PackageNotFoundError:\n"
            "        out[n] = None\nprint(json.dumps(out))")
    done = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _step(label: str, command: list[str], env: dict | None = None) -> float:
    shown = command[:2] + ["..."] if "-c" in command else command  # not the whole script of a python -c
    print(f"- {label}: {' '.join(shown)}", flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, env=env)
    if done.returncode:
        raise SystemExit(f"FAILED ({label}, exit code {done.returncode})")
    return time.perf_counter() - start


def simulate(venv: Path, torch_spec: str) -> dict:
    sys.path.insert(0, str(HERE))
    from install import pinned

    timings = {}
    timings["environment"] = _step("fresh environment", [sys.executable, "-m", "venv", str(venv)])
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    timings["colab image"] = _step("what Colab has", [str(python), "-m", "pip", "install", "--quiet", torch_spec,
                                                      *COLAB_STACK])
    before = _versions(python, ["torch", *COLAB_STACK])
    torch_files = _files_digest(python, "torch")
    timings["install cell"] = _step("the install cell's command", [str(python), str(HERE / "install.py")])
    pins = pinned()
    after = _versions(python, ["torch", *COLAB_STACK, *pins])
    checks = {
        "torch not touched": after["torch"] == before["torch"] and _files_digest(python, "torch") == torch_files,
        "pinned versions landed": all(after[name] == version for name, version in pins.items()),
    }
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "FTRAG_DEVICE": "cpu",
                "FTRAG_RESULTS": str(venv / "results"), "TQDM_DISABLE": "1"})
    try:
        timings["lesson 00"] = _step("lesson 00, executed in memory",
                                     [str(python), "-c", _RUN_LESSON, str(LESSON)], env=env)
        checks["lesson 00 runs"] = True
    except SystemExit as failed:
        print(failed)
        checks["lesson 00 runs"] = False
    return {"torch": before["torch"], "stack before": {n: before[n] for n in COLAB_STACK},
            "stack after": {n: after[n] for n in COLAB_STACK}, "pinned": {n: after[n] for n in pins},
            "checks": checks, "seconds": {k: round(v, 1) for k, v in timings.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simulate the Colab install in a fresh environment and check it.")
    parser.add_argument("--torch", default=_torch_pin(),
                        help="the torch the simulated Colab has (default: requirements.txt's, on disk here)")
    parser.add_argument("--keep", type=Path, default=None, help="build the environment here and keep it")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.keep:
        report = simulate(args.keep.resolve(), args.torch)
    else:
        with tempfile.TemporaryDirectory(prefix="ftrag-colab-") as tmp:
            report = simulate(Path(tmp) / "venv", args.torch)
    report["seconds"]["total"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report, indent=1))
    failed = [name for name, ok in report["checks"].items() if not ok]
    print("simulated Colab install: " + (f"FAILED: {', '.join(failed)}" if failed else "every check passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
