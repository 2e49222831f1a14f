"""The pretraining recipe as one dataclass: every field is a command-line flag (``python -m ftrag.pretrain --help``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ftrag.cli import arg
from ftrag.paths import data_path, repo_root


@dataclass
class PretrainConfig:
    """The pretraining recipe: each field's help text is both its comment and its --flag's help (``ftrag.cli.arg``)."""

    # data and folders (None: the World A files under data/, the run under runs/, the model under data/models/)
    phase1_data: str | None = arg(None, "phase-1 corpus (.txt or .txt.xz, examples separated by a blank line)")
    phase2_data: str | None = arg(None, "phase-2 corpus (same format)")
    rc_test: str | None = arg(None, "rc_test.jsonl for the EM probe")
    heldout: str | None = arg(None, "heldout.txt for the final perplexity")
    work_dir: str | None = arg(None, "checkpoints, token cache and logs (default: runs/course-lm)")
    out_dir: str | None = arg(None, "where the finished model goes (default: data/models/course-lm)")
    max_examples: int = arg(0, "use only the first N examples of each phase (0: all); for quick tests")
    seed: int = arg(1234, "seeds the weights, the data order and everything else")
    # tokenizer and model shape (LlamaForCausalLM)
    vocab_size: int = arg(4096, "byte-level BPE vocabulary, 256 bytes + 1 special token + merges")
    hidden_size: int = arg(256, "width of the residual stream")
    num_layers: int = arg(6, "transformer blocks")
    num_heads: int = arg(4, "attention heads (head size = hidden_size / num_heads)")
    intermediate_size: int = arg(688, "SwiGLU hidden width (~8/3 x hidden_size)")
    max_len: int = arg(512, "context length; longer examples are truncated")
    rope_theta: float = arg(10000.0, "RoPE base frequency")
    # optimisation
    budget_unit: str = arg("tokens", "unit of the phase budgets: tokens (reproducible) or minutes (of training time)")
    phase1_budget: float = arg(3e6, "phase-1 budget in budget_unit (the spike: 2.5M tokens, 6 minutes)")
    phase2_budget: float = arg(13e6, "phase-2 budget in budget_unit (the spike: 12.5M tokens, 30 minutes)")
    batch_tokens: int = arg(4096, "padded tokens per batch (rows x longest row)")
    lr: float = arg(2e-3, "peak learning rate (AdamW)")
    min_lr_frac: float = arg(0.1, "final learning rate as a fraction of the peak")
    schedule: str = arg("wsd", "wsd (warmup, stable, linear decay at the end) or cosine, over both phases")
    warmup_steps: int = arg(100, "linear warmup steps")
    decay_frac: float = arg(0.2, "wsd: share of the run spent decaying")
    weight_decay: float = arg(0.1, "AdamW weight decay on matrices (not on norms)")
    beta2: float = arg(0.95, "AdamW beta2")
    grad_clip: float = arg(1.0, "clip the gradient norm to this (0: off)")
    precision: str = arg("auto", "bf16 (autocast; weights stay fp32), fp32, or auto: bf16 only where this CPU "
                         "multiplies bf16 matrices faster than fp32 (AVX512-BF16/AMX; an AVX2-only CPU emulates bf16)")
    threads: int = arg(0, "torch threads (0: all cores)")
    # bookkeeping
    ckpt_minutes: float = arg(5.0, "checkpoint every N minutes")
    probe_minutes: float = arg(10.0, "EM probe on rc_test every N minutes")
    probe_rows: int = arg(100, "rc_test rows per probe, gold passage alone; as many again with 2 distractors")
    log_every: int = arg(10, "log the mean loss every N steps")
    save_dtype: str = arg("float32", "dtype of the saved weights: float32 or bfloat16")
    stop_after_steps: int = arg(0, "checkpoint and stop after this many steps of this invocation (0: run to the "
                                   "end); rerunning continues, e.g. across short sessions")


# Tiny shapes and budgets for `--smoke` (a one-minute end-to-end check); explicit flags still win.
SMOKE = dict(max_examples=3000, vocab_size=512, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=172,
             budget_unit="minutes", phase1_budget=0.3, phase2_budget=0.4, batch_tokens=2048, warmup_steps=10,
             ckpt_minutes=0.25, probe_minutes=0.35, probe_rows=20, log_every=5)
COMPAT = ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_len", "rope_theta",
          "seed", "batch_tokens", "max_examples")  # a checkpoint made with other values cannot be resumed


# ----------------------------------------------------------------------------------------------------------
# The run


def default_paths(cfg: PretrainConfig) -> None:
    world = ("world_a",)
    cfg.phase1_data = cfg.phase1_data or str(data_path(*world, "phase1.txt.xz"))
    cfg.phase2_data = cfg.phase2_data or str(data_path(*world, "phase2.txt.xz"))
    cfg.rc_test = cfg.rc_test or str(data_path(*world, "rc_test.jsonl"))
    if cfg.heldout is None:
        path = data_path(*world, "heldout.txt", must_exist=False)
        cfg.heldout = str(path) if path.exists() else ""
    cfg.work_dir = cfg.work_dir or str(repo_root() / "runs" / "course-lm")
    cfg.out_dir = cfg.out_dir or str(data_path("models", "course-lm", must_exist=False))


def check_config(cfg: PretrainConfig) -> None:
    if cfg.budget_unit not in ("tokens", "minutes"):
        raise SystemExit(f"--budget-unit must be tokens or minutes, got {cfg.budget_unit!r}")
    if cfg.schedule not in ("wsd", "cosine"):
        raise SystemExit(f"--schedule must be wsd or cosine, got {cfg.schedule!r}")
    if cfg.precision not in ("auto", "bf16", "fp32"):
        raise SystemExit(f"--precision must be auto, bf16 or fp32, got {cfg.precision!r}")
    if cfg.save_dtype not in ("float32", "bfloat16"):
        raise SystemExit(f"--save-dtype must be float32 or bfloat16, got {cfg.save_dtype!r}")
    if cfg.hidden_size % cfg.num_heads:
        raise SystemExit(f"--hidden-size {cfg.hidden_size} must be a multiple of --num-heads {cfg.num_heads}")
    if min(cfg.phase1_budget, cfg.phase2_budget) < 0 or cfg.phase1_budget + cfg.phase2_budget <= 0:
        raise SystemExit("the phase budgets must be >= 0, and not both 0")
    if cfg.batch_tokens < cfg.max_len:
        raise SystemExit(f"--batch-tokens {cfg.batch_tokens} must hold one full row of --max-len {cfg.max_len}")
    for p in (cfg.phase1_data, cfg.phase2_data, cfg.rc_test):
        if not Path(p).is_file():
            raise SystemExit(f"{p} does not exist; generate World A first: python -m ftrag.world")


PATH_FIELDS = ("phase1_data", "phase2_data", "rc_test", "heldout", "work_dir", "out_dir")


def portable_path(path: str | None, root: Path) -> str | None:
    """A path relative to the repository when it lies inside it (the summary ships; /home/you/... should not)."""
    if not path:
        return path
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path
