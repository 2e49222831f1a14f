"""Re-execute lessons and solutions in place on CPU, the way the tests run them: ``python -m ftrag.refresh``.

This is the only way reference outputs are made. It also regenerates the labs, and records each notebook's
wall time and its kernel's peak memory in ``docs/run_stats.json`` (the README's lesson table quotes them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from pathlib import Path

# What every notebook kernel sees, under the tests and here alike (tests/conftest.py imports this).
TEST_ENV = {
    "FTRAG_DEVICE": "cpu",  # reference outputs are CPU outputs
    "HF_HUB_OFFLINE": "1",  # nothing is fetched from a hub ...
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TQDM_DISABLE": "1",  # ... and progress bars are switched off, not sanitized away
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    # The tests run two notebooks at once (one per core); two threads each would oversubscribe the cores, which
    # slows PyTorch several times over. References are made with the same setting, so outputs match exactly.
    "OMP_NUM_THREADS": "1",
}
CELL_TIMEOUT_S = 900


class _PeakMemory:
    """Polls the memory of this process's children (the kernel) in a thread; ``peak_mb`` is the maximum."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak_mb = interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:  # a child that just ended
                    pass
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def execute(path: Path) -> dict:
    """Execute one notebook in place; return its wall time and peak kernel memory."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # timestamps of an earlier run would only add noise to the diff
        cell.metadata.pop("execution", None)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})  # no timestamps: clean diffs
    start = time.perf_counter()
    with _PeakMemory() as memory:
        client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return {"seconds": round(seconds, 1), "peak_mb": round(memory.peak_mb), "cpus": os.cpu_count(),
            "machine": platform.machine(), "date": time.strftime("%Y-%m-%d")}


def main(argv: list[str] | None = None) -> int:
    from ftrag import labs
    from ftrag.colab import notebook_paths
    from ftrag.paths import repo_root

    parser = argparse.ArgumentParser(description="Re-execute notebooks/ and solutions/ in place on CPU.")
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks to run (default: all lessons and solutions)")
    args = parser.parse_args(argv)
    os.environ.update(TEST_ENV)
    root = repo_root()
    targets = [p.resolve() for p in args.paths] or [p for p in notebook_paths(root) if p.parent.name != "labs"]
    stats_path = root / "docs" / "run_stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    for path in targets:
        rel = path.relative_to(root).as_posix()
        if rel.startswith("labs/"):
            parser.error(f"{rel} is a lab: labs are generated from solutions, not executed")
        print(f"executing {rel} ...", flush=True)
        stats[rel] = execute(path)
        print(f"  {stats[rel]['seconds']:.0f} s, peak {stats[rel]['peak_mb']} MB", flush=True)
    stats_path.parent.mkdir(exist_ok=True)
    stats_path.write_text(json.dumps(dict(sorted(stats.items())), indent=1) + "\n")
    return labs.main([])


if __name__ == "__main__":
    raise SystemExit(main())
