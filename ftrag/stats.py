"""Intervals for rates measured on a few hundred questions: the percentile bootstrap over questions.

A rate is the mean of per-question hits (0/1); resampling the questions with replacement shows how far it could
move with another draw of questions of the same kind. Two arms scored on the *same* questions are compared by
resampling the questions once for both (a paired bootstrap), which is tighter than comparing two intervals.
What it does not cover: another fact set, another training seed, another model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

N_RESAMPLES = 2000
LEVEL = 0.95


def as_hits(hits: str | Sequence[bool | int]) -> np.ndarray:
    """Per-question hits as a 0/1 array; a string of '0'/'1' (how the sweep stores them) or a sequence."""
    if isinstance(hits, str):
        if set(hits) - {"0", "1"}:
            raise ValueError("a hits string holds only '0' and '1'")
        values = [c == "1" for c in hits]
    else:
        values = [bool(h) for h in hits]
    if not values:
        raise ValueError("no hits: an interval needs at least one question")
    return np.asarray(values, dtype=float)


def _indices(n: int, n_resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def interval(hits: str | Sequence[bool | int], *, n_resamples: int = N_RESAMPLES, level: float = LEVEL,
             seed: int = 0) -> tuple[float, float, float]:
    """(rate, low, high): the rate and its percentile-bootstrap interval over questions."""
    values = as_hits(hits)
    means = values[_indices(len(values), n_resamples, seed)].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(values.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


Hits = str | Sequence[bool | int]


def paired_difference(a: Hits, b: Hits, *, n_resamples: int = N_RESAMPLES, level: float = LEVEL,
                      seed: int = 0) -> tuple[float, float, float]:
    """(rate a - rate b, low, high) over the same questions, resampled together (a paired bootstrap)."""
    a, b = as_hits(a), as_hits(b)
    if len(a) != len(b):
        raise ValueError(f"a paired difference needs the same questions: got {len(a)} and {len(b)} hits")
    idx = _indices(len(a), n_resamples, seed)
    diffs = a[idx].mean(axis=1) - b[idx].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(a.mean() - b.mean()), float(np.percentile(diffs, tail)), float(np.percentile(diffs, 100 - tail))


def shown(rate_low_high: tuple[float, float, float]) -> str:
    """'0.447 [0.387, 0.508]'."""
    rate, low, high = rate_low_high
    return f"{rate:.3f} [{low:.3f}, {high:.3f}]"
