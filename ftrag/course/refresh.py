"""Re-execute lessons and solutions in place on CPU, the way the tests run them: ``python -m ftrag.course.refresh``.

This is the only way reference outputs are made. It also regenerates the labs, records each notebook's wall time
and its kernel's peak memory in ``docs/run_stats.json``, and rewrites what is made from those (the README's
run-time column, the workshop agendas and teaching notes: ``ftrag.course.workshop``).

``--device cuda`` times the notebooks on a GPU instead: it executes a copy of each (the committed outputs stay the
CPU reference outputs) and records the time, the kernel's peak memory and the GPU's peak memory under the
notebook's ``"gpu"`` key. ``--threads 2`` times copies with two PyTorch threads, as a learner's 2-core laptop runs
a notebook (the reference outputs are made with one thread, as the tests run them, two notebooks at once), and
records them under ``"threads_2"``. ``--model smollm2 --threads 2`` runs copies of the lessons on the real model
(``$FTRAG_MODEL``; each lesson's parameters cell names the smaller samples it then uses) and records the time and
peak memory under ``"smollm2"`` (with the thread count): its claims are reported, not asserted, and nothing is
written to ``results/``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ftrag.cli import arg, parse, parser_for, positional
from ftrag.course import labs, workshop
from ftrag.course.colab import notebook_paths
from ftrag.env import RUN_ENV, PeakMemory
from ftrag.paths import repo_root

CELL_TIMEOUT_S = 900


def execute(path: Path, gpu: bool = False) -> dict:
    """Execute one notebook in place; return its wall time and peak kernel memory (and GPU memory)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # timestamps of an earlier run would only add noise to the diff
        cell.metadata.pop("execution", None)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})  # no timestamps: clean diffs
    start = time.perf_counter()
    with PeakMemory(children=True, nvidia_smi=gpu) as memory:  # the kernel is a child process
        client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    record = {"seconds": round(seconds, 1), "peak_mb": round(memory.peak_mb), "cpus": os.cpu_count(),
              "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")}
    if gpu:

        record["gpu"] = torch.cuda.get_device_name(0)
        record["gpu_peak_mb"] = None if memory.gpu_peak_mb != memory.gpu_peak_mb else round(memory.gpu_peak_mb)
    return record


def execute_copy(path: Path, gpu: bool = False) -> dict:
    """Time a copy of ``path`` (next to it, so relative paths resolve); the original and ``results/`` are untouched.

    For timings in another setting (a GPU, more threads) than the one that makes the reference outputs.
    """


    copy = path.with_name(f".timing-{path.name}")
    shutil.copyfile(path, copy)
    # A lesson writes its headline numbers to results/; those stay the reference run's (the decision guide reads them).
    saved = {p: p.read_bytes() for p in (repo_root() / "results").glob("*.json")}
    try:
        return execute(copy, gpu=gpu)
    finally:
        copy.unlink(missing_ok=True)
        for p, data in saved.items():
            p.write_bytes(data)


@dataclass
class RefreshArgs:
    """The flags of ``python -m ftrag.course.refresh``."""

    paths: list[Path] = positional("notebooks to run (default: all lessons and solutions)")
    device: str = arg("cpu", "cpu: make the reference outputs (default); cuda: only time the notebooks on a GPU",
                      choices=("cpu", "cuda"))
    threads: int = arg(1, "1: make the reference outputs with one PyTorch thread, as the tests run them (default); "
                          "N > 1: only time the notebooks with N threads, as a learner's N-core machine runs them")
    model: str = arg("", "another model than the course model (e.g. smollm2): only run copies of the notebooks on "
                         "it ($FTRAG_MODEL) and record their time and memory under its name")


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.course.refresh [NOTEBOOK ...]``: execute, record the run stats, regenerate what they make."""
    parser = parser_for(RefreshArgs, prog="python -m ftrag.course.refresh",
                        description="Re-execute notebooks/ and solutions/ in place on CPU.")
    (args,) = parse(parser, argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.threads > 1 and args.device == "cuda":
        parser.error("--threads times the CPU; with --device cuda every core is used already")
    timing_only = args.device == "cuda" or args.threads > 1 or bool(args.model)
    os.environ.update(RUN_ENV)
    if args.model:
        os.environ["FTRAG_MODEL"] = args.model
    if args.threads > 1:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    if args.device == "cuda":

        if not torch.cuda.is_available():
            parser.error("--device cuda needs a CUDA GPU, and PyTorch sees none; run without --device for the CPU")
        os.environ.update({"FTRAG_DEVICE": "cuda", "OMP_NUM_THREADS": str(os.cpu_count() or 1)})
    root = repo_root()
    targets = [p.resolve() for p in args.paths] or [p for p in notebook_paths(root) if p.parent.name != "labs"]
    stats_path = root / "docs" / "run_stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    for path in targets:
        rel = path.relative_to(root).as_posix()
        if rel.startswith("labs/"):
            parser.error(f"{rel} is a lab: labs are generated from solutions, not executed")
        print(f"executing {rel} ...", flush=True)
        old = stats.get(rel, {})
        if timing_only:
            key = args.model or ("gpu" if args.device == "cuda" else f"threads_{args.threads}")
            run = execute_copy(path, gpu=args.device == "cuda")
            if args.model:
                run["threads"] = args.threads
            stats[rel] = {**old, key: run}
        else:  # a CPU rerun keeps the notebook's last timings in other settings (GPU, more threads)
            kept = {k: v for k, v in old.items() if isinstance(v, dict)}  # GPU, thread and model timings
            run = stats[rel] = {**execute(path), **kept}
        print(f"  {run['seconds']:.0f} s, peak {run['peak_mb']} MB", flush=True)
    stats_path.parent.mkdir(exist_ok=True)
    stats_path.write_text(json.dumps(dict(sorted(stats.items())), indent=1) + "\n")
    if args.device == "cuda":
        return 0

    if args.model:  # the workshop's timings are the course model's
        return 0
    if timing_only:
        return workshop.main([])

    return labs.main([]) or workshop.main([])


if __name__ == "__main__":
    raise SystemExit(main())
