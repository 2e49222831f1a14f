"""Which precision to pretrain in: bf16 autocast only where the CPU runs it natively, measured by a matmul.
"""

from __future__ import annotations

import time

import torch


def matmul_peak(dtype: torch.dtype, seconds: float = 1.0, max_n: int = 2048) -> float:
    """Measured matmul throughput of this CPU in TFLOP/s (best of 3) at the current thread count."""
    # Grow the matrices until one product takes a measurable time; bounded, because a CPU without native
    # bf16 runs bf16 matmuls ~100x slower than fp32 and a 2048^2 product would take half a minute there.
    n = 256
    while True:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b  # warm-up: oneDNN picks and caches its kernel on the first call
        t0 = time.perf_counter()
        a @ b
        once = time.perf_counter() - t0
        if once > 0.05 or n >= max_n:
            break
        n *= 2
    reps = max(1, int(seconds / 3 / max(once, 1e-6)))
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 * reps / best / 1e12


def resolve_precision(precision: str) -> tuple[bool, str]:
    """(use bf16 autocast?, why) for --precision auto|bf16|fp32; auto measures both matmul speeds here."""
    if precision != "auto":
        return precision == "bf16", "as asked"
    fp32, bf16 = matmul_peak(torch.float32, 0.5), matmul_peak(torch.bfloat16, 0.5)
    # Autocast also pays for casts and runs norms/softmax in fp32: ask for a clear matmul win.
    return bf16 > 1.3 * fp32, f"auto: matmul TFLOP/s here fp32 {fp32:.3f}, bf16 {bf16:.3f}"
