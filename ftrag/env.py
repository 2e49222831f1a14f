"""Seeds, devices, peak memory and the environment check of lesson 00.

This module imports with the standard library alone: torch and psutil are imported where they are used, so that
lesson 00's check can report a missing package instead of failing on it.
"""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import random
import subprocess
import threading
from dataclasses import dataclass, field

DEVICE_ENV = "FTRAG_DEVICE"
_KNOWN_DEVICES = ("cpu", "cuda", "mps")


# What every notebook kernel sees when the reference outputs are made (python -m ftrag.course.refresh) and under the
# tests
# (conftest.py): offline, on the CPU, one thread, no progress bars. A learner can set the same to reproduce them.
RUN_ENV = {
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


def progress_bar(iterable=None, **kwargs):
    """A tqdm progress bar (``tqdm.auto``: a widget in Jupyter) that ``TQDM_DISABLE=1`` switches off everywhere.

    tqdm reads ``TQDM_DISABLE`` for its console bar, but its notebook bar passes ``disable=False`` itself, so under
    ``python -m ftrag.course.refresh`` and the tests (which set the variable) a notebook would keep a bar frozen at 0%
    in its saved output. ``disable=True`` also switches it off.
    """
    from tqdm.auto import tqdm

    off = os.environ.get("TQDM_DISABLE", "").strip().lower() in {"1", "true", "yes", "on"}
    return tqdm(iterable, **{**kwargs, "disable": bool(kwargs.get("disable")) or off})


def seed_everything(seed: int) -> int:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so that a cell gives the same numbers when re-run."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses; this interpreter's hash seed is already fixed
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # numpy is a dependency, but seeding must not be the thing that breaks
        pass
    try:
        import torch

        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
    except ImportError:
        pass
    return seed


def _check_device(name: str, source: str) -> str:
    import torch

    kind = name.split(":", 1)[0]
    if kind not in _KNOWN_DEVICES:
        raise ValueError(
            f"unknown device {name!r} ({source}); choose one of: {', '.join(_KNOWN_DEVICES)} "
            f"(optionally with an index, e.g. cuda:0), or unset {DEVICE_ENV} to pick automatically"
        )
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {name!r} was asked for ({source}) but PyTorch sees no CUDA GPU. On Colab choose "
            f"Runtime > Change runtime type > GPU; locally use 'cpu' or unset {DEVICE_ENV}."
        )
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {name!r} was asked for ({source}) but MPS (Apple GPU) is not available; use 'cpu'")
    return name


def get_device(prefer: str | None = None) -> str:
    """The device to run on: ``prefer``, else ``$FTRAG_DEVICE``, else cuda, then mps, then cpu."""
    import torch

    if prefer is not None:
        return _check_device(str(prefer), "argument prefer")
    override = os.environ.get(DEVICE_ENV, "").strip()
    if override:
        return _check_device(override, f"environment variable {DEVICE_ENV}")
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


# ----------------------------------------------------------------------------------------------------------
# Peak memory


def gpu_used_mb(index: int = 0) -> float:
    """Memory in use on GPU ``index`` as nvidia-smi reports it (every process's, CUDA contexts included); NaN when
    unknown."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i",
                              str(index)], capture_output=True, text=True, timeout=10).stdout
        return float(out.strip().splitlines()[0])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return float("nan")


def release_memory(collect: bool = True) -> None:
    """Give freed memory back to the operating system: collect reference cycles and, on Linux, trim glibc's heap.

    PyTorch returns a freed CPU tensor to the C allocator, which keeps the pages for reuse: after a training run the
    process's resident memory stays near its peak, and another process (a notebook's child, a second kernel) cannot
    use it. ``malloc_trim`` hands those pages back. Elsewhere (macOS, Windows, a Linux without glibc) this only
    collects cycles: their allocators return memory on their own terms. ``collect=False`` skips the cycle collection
    (tensors are freed by reference counting; a full collection costs tens of ms in a notebook's kernel).
    """
    if collect:
        gc.collect()
    if platform.system() == "Linux":
        try:
            trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # musl (Alpine) has no malloc_trim: nothing to trim there
            return
        trim(0)


class PeakMemory:
    """The most memory in use since it was made: ``peak_mb``, and ``extra_mb()`` above what was in use at the start.

    What it measures: on a CUDA ``device``, PyTorch's allocator there; otherwise the resident memory (RSS) of this
    process or, with ``children=True``, of its child processes together (a notebook's kernel). ``nvidia_smi=True``
    also follows GPU 0's used memory (any process's) in ``gpu_peak_mb``, NaN once nvidia-smi cannot tell.
    Call ``sample()`` where memory peaks (a training loop: right after backward), or use it as a ``with`` block: a
    thread samples every ``interval`` seconds until the block ends.
    """

    def __init__(self, device: str = "cpu", *, children: bool = False, nvidia_smi: bool = False,
                 interval: float = 0.2):
        self.device, self.children, self.nvidia_smi, self.interval = device, children, nvidia_smi, interval
        self.cuda = str(device).startswith("cuda")
        if self.cuda:
            import torch

            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            self.start = torch.cuda.memory_allocated(device)
        else:
            import psutil  # polling RSS costs microseconds; tracemalloc would slow a training loop down

            self.process = psutil.Process()
            self.start = self._resident()
        self.peak, self.gpu_peak_mb = self.start, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _resident(self) -> int:
        if not self.children:
            return self.process.memory_info().rss
        import psutil

        total = 0
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:  # a child that just ended
                pass
        return total

    def sample(self) -> None:
        """Take the memory in use now into account (CUDA's allocator keeps its own peak)."""
        if not self.cuda:
            self.peak = max(self.peak, self._resident())
        if self.nvidia_smi:
            used = gpu_used_mb()
            self.gpu_peak_mb = used if used != used else max(self.gpu_peak_mb, used)  # NaN stays NaN

    def _peak_bytes(self) -> int:
        if self.cuda:
            import torch

            self.peak = torch.cuda.max_memory_allocated(self.device)
        return self.peak

    @property
    def peak_mb(self) -> float:
        return self._peak_bytes() / 2**20

    def extra_mb(self) -> float:
        """Memory above what was in use at the start (in training: activations, gradients, optimizer state)."""
        return (self._peak_bytes() - self.start) / 2**20

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class EnvReport:
    """What lesson 00's environment check found."""

    versions: dict[str, str]  # package -> version ("missing" when it does not import)
    device: str  # what get_device() picked
    memory_gb: float  # total RAM of this machine
    cpus: int  # logical CPUs
    problems: list[str] = field(default_factory=list)  # each with a fix hint

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [f"Python {platform.python_version()} on {platform.system()} ({platform.machine()})"]
        lines += [f"  {name:<22} {version}" for name, version in self.versions.items()]
        lines.append(f"device: {self.device}   CPUs: {self.cpus}   RAM: {self.memory_gb:.1f} GB")
        if self.ok:
            lines.append("Verdict: ready. Every lesson of the course can run here.")
        else:
            lines.append("Verdict: not ready yet. Fix these, then re-run this cell:")
            lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


# import name -> distribution name (for its version)
REQUIRED = {"torch": "torch", "transformers": "transformers", "tokenizers": "tokenizers", "peft": "peft",
            "datasets": "datasets", "sentence_transformers": "sentence-transformers", "faiss": "faiss-cpu",
            "bm25s": "bm25s", "jsonschema": "jsonschema", "xgrammar": "xgrammar", "matplotlib": "matplotlib",
            "numpy": "numpy", "bitsandbytes": "bitsandbytes"}  # bitsandbytes: lesson 02's QLoRA section
OPTIONAL: dict[str, str] = {}  # reported but not required (none at present)
INSTALL_HINT = "run `python -m pip install -r requirements.txt` in the course folder (on Colab: the first code cell)"


def environment_report(min_memory_gb: float = 3.0) -> EnvReport:
    """Check versions, device and memory, and say what to fix."""
    import importlib
    import importlib.metadata

    versions: dict[str, str] = {}
    problems: list[str] = []
    for name, dist in {**REQUIRED, **OPTIONAL}.items():
        try:
            importlib.import_module(name)
            versions[name] = importlib.metadata.version(dist)
        except Exception as exc:  # a broken install raises more than ImportError; report it, do not hide it
            versions[name] = "missing"
            if name in REQUIRED:
                problems.append(f"{name} does not import ({type(exc).__name__}: {exc}); {INSTALL_HINT}")
    try:
        import psutil

        memory_gb = psutil.virtual_memory().total / 2**30
    except ImportError:
        memory_gb = float("nan")
    if memory_gb < min_memory_gb:
        problems.append(f"only {memory_gb:.1f} GB of RAM; the lessons need about {min_memory_gb:.0f} GB free")
    try:
        device = get_device()
    except (ValueError, ImportError) as exc:
        device = "unavailable"
        problems.append(str(exc))
    return EnvReport(versions, device, memory_gb, os.cpu_count() or 1, problems)
