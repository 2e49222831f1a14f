"""What a pretraining run records: the summary written next to the model (commit, CPU, scores, timings).
"""

from __future__ import annotations

import platform
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import transformers

from ftrag.files import read_examples
from ftrag.lm import perplexity, rc_em
from ftrag.paths import repo_root
from ftrag.pretrain.config import PATH_FIELDS, portable_path
from ftrag.pretrain.precision import matmul_peak


def probe_em(model, tokenizer, probe: dict[int, list[dict]]) -> dict:
    """Reading-comprehension EM with the gold passage alone (em_gold) and with 2 distractors (em_d2)."""
    model.eval()
    result = {"em_gold" if nd == 0 else f"em_d{nd}": round(rc_em(model, tokenizer, rows, nd)[0], 4)
              for nd, rows in probe.items() if rows}
    model.train()
    return result


def _git_commit(root: Path) -> str | None:
    """The checked-out commit, read from .git without running git."""
    try:
        head = (root / ".git" / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (root / ".git" / ref).is_file():
            return (root / ".git" / ref).read_text().strip()
        for line in (root / ".git" / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return None


def cpu_description() -> str:
    """The CPU's model name and the widest vector ISA torch uses on it (e.g. 'AMD EPYC (AVX2)')."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name} ({torch.backends.cpu.get_cpu_capability()})"


def run_summary(cfg, state, model, tokenizer, n_params, probe_rows, command) -> dict:
    import tokenizers

    tps = state.tokens / max(state.train_seconds, 1e-9)
    peaks = {"float32": matmul_peak(torch.float32), "bfloat16": matmul_peak(torch.bfloat16)}
    peak = peaks["bfloat16" if state.bf16 else "float32"]
    heldout_ppl = None
    if cfg.heldout:
        heldout_ppl = round(perplexity(model, tokenizer, read_examples(Path(cfg.heldout), limit=300)), 4)
    try:
        root = repo_root()
    except FileNotFoundError:
        root = Path.cwd()
    return {
        "steps": state.step, "tokens": state.tokens, "padded_tokens": state.padded_tokens,
        "parameters": n_params, "wall_seconds": round(state.elapsed, 1),
        "train_seconds": round(state.train_seconds, 1), "tokens_per_s": round(tps),
        "matmul_peak_tflops": {k: round(v, 4) for k, v in peaks.items()},
        "model_flops_tflops": round(6 * n_params * tps / 1e12, 4),
        "model_flops_share_of_peak": round(6 * n_params * tps / 1e12 / peak, 4),
        "final_probe": probe_em(model, tokenizer, probe_rows), "heldout_ppl": heldout_ppl,
        "precision": "bf16" if state.bf16 else "fp32", "seed": cfg.seed, "threads": torch.get_num_threads(),
        "config": {k: portable_path(v, root) if k in PATH_FIELDS else v for k, v in asdict(cfg).items()},
        "command": command or f"ftrag.pretrain.train({cfg!r})",
        "git_commit": _git_commit(root), "cpu": cpu_description(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                     "numpy": np.__version__},
    }
