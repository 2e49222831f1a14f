"""The README's table of the lessons run on the real model: written by ``python -m ftrag.course.workshop`` from the
``smollm2`` entries that ``python -m ftrag.course.refresh --model smollm2`` records in ``docs/run_stats.json``."""

from __future__ import annotations

import re
from pathlib import Path


def minutes_label(minutes: float) -> str:
    return f"{minutes:.1f} min"


REAL_MODEL = "smollm2"  # the key ``python -m ftrag.course.refresh --model smollm2`` records its runs under
_REAL_BLOCK = re.compile(r"(<!-- real-model runs -->\n)(?:.*?\n)?(<!-- /real-model runs -->)", flags=re.S)


def real_model_table(stats: dict) -> str:
    """The README's table of the lessons run on the real model (``FTRAG_MODEL=smollm2``): time and peak memory."""
    lines = ["| lesson | run time on SmolLM2-135M-Instruct | peak memory | threads | measured |",
             "|---|---|---|---|---|"]
    for rel, run in sorted(stats.items()):
        real = run.get(REAL_MODEL)
        if rel.startswith("notebooks/") and real:
            lines.append(f"| {Path(rel).stem[:2]} | {minutes_label(real['seconds'] / 60)} | "
                         f"{real['peak_mb'] / 1024:.1f} GB | {real['threads']} | {real['date']} |")
    return "\n".join(lines)


def real_model_runs(text: str, stats: dict) -> str:
    """``text`` with the block between the ``real-model runs`` markers set from ``stats`` (none: unchanged)."""
    return _REAL_BLOCK.sub(lambda m: m.group(1) + real_model_table(stats) + "\n" + m.group(2), text)
