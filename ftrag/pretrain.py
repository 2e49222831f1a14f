"""Train the course's tokenizer and model on World A: ``python -m ftrag.pretrain`` (``--help`` for every flag).

The recipe follows what was measured on a 2-core CPU before the course existed (docs: COURSE_DESIGN.md):
- one example per row, never packed: packed examples attend to unrelated earlier examples and the model
  learns to read passages much later (EM 0.20 vs 0.89 after 6 minutes);
- a curriculum: short one-to-two-sentence passages first (phase 1), then biographies with distractors (phase 2);
- length-bucketed, padded batches of about 4k tokens;
- bf16 autocast only on a CPU with native bf16 (AVX512-BF16: 1.6x faster than fp32 in the spike); an AVX2-only
  CPU emulates bf16 (there a training step took 20x longer than in fp32), so `--precision auto` measures and picks.
A run can be killed at any time: it checkpoints every few minutes and the same command resumes it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import shlex
import shutil
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from ftrag.files import read_examples, read_jsonl, sha256
from ftrag.model import perplexity, rc_em
from ftrag.paths import data_path, repo_root

EOT = "<|endoftext|>"  # the one special token: BOS, EOS and padding


def _f(default, help: str):
    """A dataclass field whose help text is both its comment and its --flag's help."""
    return field(default=default, metadata={"help": help})


@dataclass
class PretrainConfig:
    # data and folders (None: the World A files under data/, the run under runs/, the model under data/models/)
    phase1_data: str | None = _f(None, "phase-1 corpus (.txt or .txt.xz, examples separated by a blank line)")
    phase2_data: str | None = _f(None, "phase-2 corpus (same format)")
    rc_test: str | None = _f(None, "rc_test.jsonl for the EM probe")
    heldout: str | None = _f(None, "heldout.txt for the final perplexity")
    work_dir: str | None = _f(None, "checkpoints, token cache and logs (default: runs/course-lm)")
    out_dir: str | None = _f(None, "where the finished model goes (default: data/models/course-lm)")
    max_examples: int = _f(0, "use only the first N examples of each phase (0: all); for quick tests")
    seed: int = _f(1234, "seeds the weights, the data order and everything else")
    # tokenizer and model shape (LlamaForCausalLM)
    vocab_size: int = _f(4096, "byte-level BPE vocabulary, 256 bytes + 1 special token + merges")
    hidden_size: int = _f(256, "width of the residual stream")
    num_layers: int = _f(6, "transformer blocks")
    num_heads: int = _f(4, "attention heads (head size = hidden_size / num_heads)")
    intermediate_size: int = _f(688, "SwiGLU hidden width (~8/3 x hidden_size)")
    max_len: int = _f(512, "context length; longer examples are truncated")
    rope_theta: float = _f(10000.0, "RoPE base frequency")
    # optimisation
    budget_unit: str = _f("tokens", "unit of the phase budgets: tokens (reproducible) or minutes (of training time)")
    phase1_budget: float = _f(3e6, "phase-1 budget in budget_unit (the spike: 2.5M tokens, 6 minutes)")
    phase2_budget: float = _f(13e6, "phase-2 budget in budget_unit (the spike: 12.5M tokens, 30 minutes)")
    batch_tokens: int = _f(4096, "padded tokens per batch (rows x longest row)")
    lr: float = _f(2e-3, "peak learning rate (AdamW)")
    min_lr_frac: float = _f(0.1, "final learning rate as a fraction of the peak")
    schedule: str = _f("wsd", "wsd (warmup, stable, linear decay at the end) or cosine, over both phases")
    warmup_steps: int = _f(100, "linear warmup steps")
    decay_frac: float = _f(0.2, "wsd: share of the run spent decaying")
    weight_decay: float = _f(0.1, "AdamW weight decay on matrices (not on norms)")
    beta2: float = _f(0.95, "AdamW beta2")
    grad_clip: float = _f(1.0, "clip the gradient norm to this (0: off)")
    precision: str = _f("auto", "bf16 (autocast; weights stay fp32), fp32, or auto: bf16 only where this CPU "
                        "multiplies bf16 matrices faster than fp32 (AVX512-BF16/AMX; an AVX2-only CPU emulates bf16)")
    threads: int = _f(0, "torch threads (0: all cores)")
    # bookkeeping
    ckpt_minutes: float = _f(5.0, "checkpoint every N minutes")
    probe_minutes: float = _f(10.0, "EM probe on rc_test every N minutes")
    probe_rows: int = _f(100, "rc_test rows per probe, gold passage alone; as many again with 2 distractors")
    log_every: int = _f(10, "log the mean loss every N steps")
    save_dtype: str = _f("float32", "dtype of the saved weights: float32 or bfloat16")
    stop_after_steps: int = _f(0, "checkpoint and stop after this many steps of this invocation (0: run to the "
                                  "end); rerunning continues, e.g. across short sessions")


# Tiny shapes and budgets for `--smoke` (a one-minute end-to-end check); explicit flags still win.
SMOKE = dict(max_examples=3000, vocab_size=512, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=172,
             budget_unit="minutes", phase1_budget=0.3, phase2_budget=0.4, batch_tokens=2048, warmup_steps=10,
             ckpt_minutes=0.25, probe_minutes=0.35, probe_rows=20, log_every=5)
COMPAT = ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_len", "rope_theta",
          "seed", "batch_tokens", "max_examples")  # a checkpoint made with other values cannot be resumed


# ----------------------------------------------------------------------------------------------------------
# Corpus and tokenizer


SPLIT_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{Ll}\p{L}*|\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE: every byte is a token, so text the corpus never held (a brace) still encodes."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # GPT-2's split, except that a space before a capitalised word or a number is a token of its own: a name, a
    # town or a date is then the same tokens after a space, a quote or a bracket, so the model can copy it into
    # any format (JSON's `"Ulvard"` reuses the tokens of ` Ulvard`). Lower-case words keep their space.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    # Every encoded text starts with <|endoftext|> (as BOS): the first real token then has a context to be
    # predicted from, and the model sees the same start in training, perplexity and prompts.
    tok.post_processor = processors.TemplateProcessing(single=f"{EOT} $A", pair=f"{EOT} $A {EOT} $B",
                                                       special_tokens=[(EOT, tok.token_to_id(EOT))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT, pad_token=EOT,
                                   clean_up_tokenization_spaces=False)


def save_tokenizer(tokenizer, folder: Path, max_len: int) -> None:
    """Save so that AutoTokenizer.from_pretrained(folder) works with transformers 4 and 5 and no custom code."""
    tokenizer.model_max_length = max_len
    tokenizer.save_pretrained(folder)
    cfg_path = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"  # transformers 5 maps it to its TokenizersBackend
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")


def prepare_tokenizer(cfg: PretrainConfig, corpora: list[Path], work: Path, resuming: bool):
    """The run's tokenizer from work/tokenizer, trained (deterministically) when the corpus or vocab size changed."""
    from transformers import AutoTokenizer

    tok_dir = work / "tokenizer"
    meta = tok_dir / "ftrag_tokenizer.json"  # what it was trained on
    key = {"corpus_sha256": [sha256(c) for c in corpora], "vocab_size": cfg.vocab_size,
           "max_examples": cfg.max_examples}
    old_key = json.loads(meta.read_text()) if meta.exists() else None
    if old_key == key:
        return AutoTokenizer.from_pretrained(tok_dir)
    if resuming and old_key is not None:
        raise SystemExit(f"the corpus or --vocab-size changed since the run in {work} started; rerun with --fresh "
                         "to start over on the new data, or use another --work-dir")
    t0 = time.time()
    texts = [e for c in corpora for e in read_examples(c, limit=cfg.max_examples)]  # fixed order: the same merges
    tmp = work / "tokenizer.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_tokenizer(train_tokenizer(texts, cfg.vocab_size), tmp, cfg.max_len)
    (tmp / meta.name).write_text(json.dumps(key) + "\n")
    shutil.rmtree(tok_dir, ignore_errors=True)
    os.replace(tmp, tok_dir)
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    print(f"trained the tokenizer: {len(tokenizer)} tokens from {len(texts):,} examples in {time.time() - t0:.0f}s")
    return tokenizer


def tokenize_cached(examples_fn, corpus: Path, tokenizer, cache: Path, cfg: PretrainConfig):
    """(tokens, offsets) of every example as one flat uint16 array, BOS + text + EOS; cached in the work dir."""
    key = hashlib.sha256(json.dumps([sha256(corpus), tokenizer.backend_tokenizer.to_str(), cfg.max_len,
                                     cfg.max_examples]).encode()).hexdigest()[:16]
    path = cache.with_name(f"{cache.name}-{key}.npz")
    if path.exists():
        with np.load(path) as z:
            return z["tokens"], z["offsets"]
    examples = examples_fn()
    eos, rows, truncated = tokenizer.eos_token_id, [], 0
    for start in range(0, len(examples), 10_000):  # chunks: bounded memory for the Encoding objects
        for enc in tokenizer.backend_tokenizer.encode_batch(examples[start:start + 10_000]):
            ids = enc.ids + [eos]
            truncated += len(ids) > cfg.max_len
            rows.append(np.asarray(ids[:cfg.max_len], dtype=np.uint16))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    tokens = np.concatenate(rows)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, tokens=tokens, offsets=offsets)
    os.replace(tmp, path)  # atomic: a killed run never leaves half a cache behind
    print(f"tokenized {corpus.name}: {len(rows):,} examples, {len(tokens):,} tokens "
          f"({truncated} truncated to {cfg.max_len})")
    return tokens, offsets


# ----------------------------------------------------------------------------------------------------------
# Batches: one example per row, similar lengths together, padding masked out of the loss


def epoch_batches(lengths: np.ndarray, batch_tokens: int, seed: int, phase: int, epoch: int) -> list[np.ndarray]:
    """Example indices of each batch of one epoch; the same (seed, phase, epoch) always gives the same plan."""
    rng = np.random.default_rng([seed, phase, epoch])
    perm = rng.permutation(len(lengths))
    batches = []
    # Sort within random chunks, not globally: batches have little padding, yet lengths still mix across steps.
    for chunk in np.array_split(perm, max(1, len(perm) // 8192)):
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        start = 0
        while start < len(chunk):
            end = start + 1  # rows are sorted ascending, so the last row is the longest
            while end < len(chunk) and (end + 1 - start) * lengths[chunk[end]] <= batch_tokens:
                end += 1
            batches.append(chunk[start:end])
            start = end
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def collate(tokens: np.ndarray, offsets: np.ndarray, rows: np.ndarray, pad_id: int):
    """Right-padded input ids and labels (-100 on padding), both (B, T)."""
    seqs = [tokens[offsets[i]:offsets[i + 1]].astype(np.int64) for i in rows]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(seqs), width), -100, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = labels[i, :len(s)] = torch.from_numpy(s)
    return ids, labels


# ----------------------------------------------------------------------------------------------------------
# Model, schedule, probe


def build_model(cfg: PretrainConfig, tokenizer):
    """A fresh LlamaForCausalLM of the configured shape (seeded)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    eot = tokenizer.eos_token_id
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers,
                         num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_heads,
                         intermediate_size=cfg.intermediate_size, max_position_embeddings=cfg.max_len,
                         rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta},
                         tie_word_embeddings=True,  # saves vocab x hidden weights, a fifth of this small model
                         bos_token_id=eot, eos_token_id=eot, pad_token_id=eot)
    torch.manual_seed(cfg.seed)
    return LlamaForCausalLM(config)


def lr_at(cfg: PretrainConfig, step: int, progress: float) -> float:
    """Learning rate at a step, given the share of the whole run (both phases) done."""
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    if cfg.schedule == "cosine":
        frac = cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    else:  # wsd keeps the peak through the phase switch and decays only at the end of the run
        left = 1.0 - progress
        frac = 1.0 if left >= cfg.decay_frac else \
            cfg.min_lr_frac + (1 - cfg.min_lr_frac) * max(left, 0.0) / cfg.decay_frac
    return cfg.lr * warm * frac


def load_probe_rows(path: Path, n: int) -> dict[int, list[dict]]:
    """Probe rows of rc_test.jsonl by number of distractors: the first n rows (0), the first n with 3+ passages (2)."""
    rows = read_jsonl(path)
    return {0: rows[:n], 2: [r for r in rows if len(r["passages"]) >= 3][:n]}


def probe_em(model, tokenizer, probe: dict[int, list[dict]]) -> dict:
    """Reading-comprehension EM with the gold passage alone (em_gold) and with 2 distractors (em_d2)."""
    model.eval()
    result = {"em_gold" if nd == 0 else f"em_d{nd}": round(rc_em(model, tokenizer, rows, nd)[0], 4)
              for nd, rows in probe.items() if rows}
    model.train()
    return result


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


# ----------------------------------------------------------------------------------------------------------
# Checkpoints and the log


@dataclass
class TrainState:
    phase: int = 0  # 0, 1 (the two phases) or 2 (done)
    epoch: int = 0  # epoch within the current phase
    batch: int = 0  # next batch of that epoch's plan
    step: int = 0
    tokens: int = 0  # real (non-padding) tokens trained on
    padded_tokens: int = 0  # tokens computed, padding included
    phase_used: list = field(default_factory=lambda: [0.0, 0.0])  # budget spent per phase, in budget_unit
    train_seconds: float = 0.0  # time in training steps (the minutes budget counts this)
    elapsed: float = 0.0  # wall time, probes and checkpoints included
    bf16: bool | None = None  # the precision chosen at the start; a resumed run keeps it


def save_checkpoint(path: Path, model, opt, state: TrainState, cfg: PretrainConfig) -> None:
    """Everything needed to continue exactly where the run was, written atomically."""
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "state": asdict(state),
            "config": asdict(cfg), "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
            "numpy_rng": np.random.get_state()}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)  # a kill during torch.save leaves the previous checkpoint intact


def load_checkpoint(path: Path, model, opt, cfg: PretrainConfig) -> TrainState:
    """Restore model, optimizer, RNGs and data position; refuse a checkpoint of another shape or seed."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)  # our own file: RNG states need pickle
    old = ckpt["config"]
    changed = [k for k in COMPAT if old.get(k) != getattr(cfg, k)]
    if changed:
        diff = ", ".join(f"{k}: {old.get(k)} -> {getattr(cfg, k)}" for k in changed)
        raise SystemExit(f"{path} was made with other settings ({diff}). Use the same flags to resume, "
                         "--fresh to start over, or another --work-dir.")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    torch.set_rng_state(ckpt["torch_rng"])
    random.setstate(ckpt["python_rng"])
    np.random.set_state(ckpt["numpy_rng"])
    return TrainState(**ckpt["state"])


class JsonlLog:
    """Append-only JSONL log; on resume, lines past the checkpoint's step are dropped (they will be redone)."""

    def __init__(self, path: Path, resume_step: int):
        self.path = path
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= resume_step]
        path.write_text("".join(line + "\n" for line in kept))

    def write(self, **record) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


# ----------------------------------------------------------------------------------------------------------
# The run


def _default_paths(cfg: PretrainConfig) -> None:
    world = ("world_a",)
    cfg.phase1_data = cfg.phase1_data or str(data_path(*world, "phase1.txt.xz"))
    cfg.phase2_data = cfg.phase2_data or str(data_path(*world, "phase2.txt.xz"))
    cfg.rc_test = cfg.rc_test or str(data_path(*world, "rc_test.jsonl"))
    if cfg.heldout is None:
        path = data_path(*world, "heldout.txt", must_exist=False)
        cfg.heldout = str(path) if path.exists() else ""
    cfg.work_dir = cfg.work_dir or str(repo_root() / "runs" / "course-lm")
    cfg.out_dir = cfg.out_dir or str(data_path("models", "course-lm", must_exist=False))


def _check(cfg: PretrainConfig) -> None:
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


def train(cfg: PretrainConfig, fresh: bool = False, command: str = "") -> dict:
    """Train (or resume) the course model and save it to cfg.out_dir; returns the training summary."""
    from tqdm.auto import tqdm
    from transformers import GenerationConfig

    _default_paths(cfg)
    _check(cfg)
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    work = Path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    ckpt_path = work / "checkpoint.pt"
    if fresh and ckpt_path.exists():
        ckpt_path.unlink()
    corpora = [Path(cfg.phase1_data), Path(cfg.phase2_data)]

    tokenizer = prepare_tokenizer(cfg, corpora, work, resuming=ckpt_path.exists())
    data = [tokenize_cached(lambda c=c: read_examples(c, limit=cfg.max_examples), c, tokenizer,
                            work / f"tokens-phase{i + 1}", cfg) for i, c in enumerate(corpora)]
    lengths = [np.diff(offsets) for _, offsets in data]
    if not all(len(x) for x in lengths):
        raise SystemExit(f"a phase has no examples: {corpora[0]} {len(lengths[0])}, {corpora[1]} {len(lengths[1])}")

    model = build_model(cfg, tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]  # matrices; norms' gains are not decayed
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, cfg.beta2),
                            fused=False)
    state = TrainState()
    if ckpt_path.exists():
        state = load_checkpoint(ckpt_path, model, opt, cfg)
        print(f"resumed from {ckpt_path}: step {state.step}, phase {state.phase + 1}, {state.tokens:,} tokens")
    else:
        torch.manual_seed(cfg.seed)
    log = JsonlLog(work / "training_log.jsonl", state.step if ckpt_path.exists() else -1)
    probe_rows = load_probe_rows(Path(cfg.rc_test), cfg.probe_rows)
    bf16, why = resolve_precision(cfg.precision)
    if state.bf16 is not None and state.bf16 != bf16:
        print(f"keeping the checkpoint's precision ({'bf16' if state.bf16 else 'fp32'}) for the rest of the run")
    state.bf16 = bf16 = bf16 if state.bf16 is None else state.bf16
    print(f"model: {n_params / 1e6:.2f}M parameters, {cfg.num_layers} layers x {cfg.hidden_size}, "
          f"vocab {len(tokenizer)}; threads {torch.get_num_threads()}, precision {'bf16' if bf16 else 'fp32'} ({why})")

    # Stop cleanly on Ctrl-C / SIGTERM: finish the step, checkpoint, exit (re-running the command resumes).
    stop = {"asked": False}

    def ask_stop(signum, frame):
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        print("\nstopping after this step (checkpointing); press Ctrl-C again to abort")

    # (Signal handlers can only be set from the main thread; elsewhere, e.g. a worker thread, Ctrl-C just aborts.)
    in_main = threading.current_thread() is threading.main_thread()
    old_handlers = {s: signal.signal(s, ask_stop) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}

    budgets = [cfg.phase1_budget, cfg.phase2_budget]
    scale = 60.0 if cfg.budget_unit == "minutes" else 1.0  # budgets in minutes are counted in seconds
    total = sum(budgets) * scale
    fmt = None if scale == 1 else "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"
    bar = tqdm(total=round(total), initial=min(sum(state.phase_used) * scale, round(total)), desc="pretrain",
               unit="tok" if scale == 1 else "s", unit_scale=scale == 1, bar_format=fmt, dynamic_ncols=True)
    start_wall = time.time() - state.elapsed
    last_ckpt = last_probe = time.time()
    loss_sum, loss_n, window_tokens, window_secs = 0.0, 0, 0, 0.0
    plan, plan_key = None, None
    first_step = state.step
    model.train()
    try:
        if state.phase == 2 and state.phase_used[1] < budgets[1]:  # a finished run given a larger phase-2 budget
            state.phase = 1
        while state.phase < 2 and not stop["asked"]:
            p = state.phase
            if state.phase_used[p] >= budgets[p]:  # phase done: log a probe and move on
                result = probe_em(model, tokenizer, probe_rows)
                log.write(event="probe", step=state.step, phase=p + 1, tokens=state.tokens, **result)
                tqdm.write(f"end of phase {p + 1}: step {state.step} {result}")
                last_probe = time.time()
                state.phase, state.epoch, state.batch = p + 1, 0, 0
                continue
            if plan_key != (p, state.epoch):
                plan, plan_key = epoch_batches(lengths[p], cfg.batch_tokens, cfg.seed, p, state.epoch), (p, state.epoch)
            if state.batch >= len(plan):
                state.epoch, state.batch = state.epoch + 1, 0
                continue

            t0 = time.perf_counter()
            ids, labels = collate(*data[p], plan[state.batch], tokenizer.pad_token_id)  # (B, T) each
            progress = sum(state.phase_used) / sum(budgets)
            lr = lr_at(cfg, state.step, progress)
            for group in opt.param_groups:
                group["lr"] = lr
            # No attention mask: with right padding a causal model's real tokens never see the padding, and
            # SDPA's is_causal path is faster than an explicit mask. The padding is out of the loss (labels -100).
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0

            real = int((labels != -100).sum())
            state.step, state.batch = state.step + 1, state.batch + 1
            state.tokens += real
            state.padded_tokens += ids.numel()
            state.train_seconds += dt
            state.phase_used[p] += real if scale == 1 else dt / 60
            state.elapsed = time.time() - start_wall
            bar.update(min(real if scale == 1 else dt, max(bar.total - bar.n, 0)))  # the last step overshoots
            loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
            window_tokens, window_secs = window_tokens + real, window_secs + dt
            if state.step % cfg.log_every == 0:
                tps = window_tokens / window_secs
                log.write(step=state.step, phase=p + 1, tokens=state.tokens, loss=round(loss_sum / loss_n, 4),
                          lr=lr, elapsed=round(state.elapsed, 1), tok_per_s=round(tps))
                bar.set_postfix(phase=p + 1, loss=f"{loss_sum / loss_n:.3f}", tok_s=f"{tps:,.0f}")
                loss_sum, loss_n, window_tokens, window_secs = 0.0, 0, 0, 0.0
            now = time.time()
            if now - last_probe >= cfg.probe_minutes * 60:
                result = probe_em(model, tokenizer, probe_rows)
                log.write(event="probe", step=state.step, phase=p + 1, tokens=state.tokens, **result)
                tqdm.write(f"probe at step {state.step} (phase {p + 1}, {state.tokens:,} tokens): {result}")
                last_probe = now = time.time()
            if cfg.stop_after_steps and state.step - first_step >= cfg.stop_after_steps:
                stop["asked"] = True
            if now - last_ckpt >= cfg.ckpt_minutes * 60:
                save_checkpoint(ckpt_path, model, opt, state, cfg)
                last_ckpt = time.time()
    finally:
        bar.close()
        for s, h in old_handlers.items():
            signal.signal(s, h)
    state.elapsed = time.time() - start_wall
    save_checkpoint(ckpt_path, model, opt, state, cfg)
    if state.phase < 2:
        print(f"stopped at step {state.step}; checkpoint saved in {ckpt_path}. Run the same command to resume.")
        return {}

    # The finished model, in Hugging Face format: loadable with AutoModelForCausalLM/AutoTokenizer alone.
    model.eval()
    out = Path(cfg.out_dir)
    tmp = work / "final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id,
                                               eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    save_model = model if cfg.save_dtype == "float32" else build_model(cfg, tokenizer).to(torch.bfloat16)
    if save_model is not model:
        save_model.load_state_dict(model.state_dict())
        save_model.generation_config = model.generation_config
    save_model.save_pretrained(tmp)
    save_tokenizer(tokenizer, tmp, cfg.max_len)
    summary = _summary(cfg, state, model, tokenizer, n_params, probe_rows, command)
    shutil.copy(work / "training_log.jsonl", tmp / "training_log.jsonl")
    (tmp / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    out.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():  # file by file: other files in out (a model card) stay
        os.chmod(f, 0o644)  # safetensors writes 0600; a shipped model should be readable by everyone
        os.replace(f, out / f.name)
    tmp.rmdir()
    print(json.dumps({k: summary[k] for k in ("steps", "tokens", "tokens_per_s", "final_probe", "heldout_ppl")}))
    print(f"saved the model to {out}")
    return summary


PATH_FIELDS = ("phase1_data", "phase2_data", "rc_test", "heldout", "work_dir", "out_dir")


def _portable(path: str | None, root: Path) -> str | None:
    """A path relative to the repository when it lies inside it (the summary ships; /home/you/... should not)."""
    if not path:
        return path
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def _cpu() -> str:
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


def _summary(cfg, state, model, tokenizer, n_params, probe_rows, command) -> dict:
    import tokenizers
    import transformers

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
        "config": {k: _portable(v, root) if k in PATH_FIELDS else v for k, v in asdict(cfg).items()},
        "command": command or f"ftrag.pretrain.train({cfg!r})",
        "git_commit": _git_commit(root), "cpu": _cpu(),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                     "numpy": np.__version__},
    }


def parse_args(argv: list[str] | None = None) -> tuple[PretrainConfig, bool]:
    """Flags for every PretrainConfig field (``--hidden-size``, ...), plus --smoke and --fresh."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m ftrag.pretrain", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in fields(PretrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=f.default, help=f.metadata["help"])
    parser.add_argument("--smoke", action="store_true",
                        help="a one-minute run of a tiny model into runs/smoke (checks the whole pipeline)")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the checkpoint in --work-dir and start over (the tokenizer and token "
                             "cache are reused while the corpus is unchanged: they are deterministic)")
    if "--smoke" in argv:
        root = repo_root()
        parser.set_defaults(**SMOKE, work_dir=str(root / "runs" / "smoke"),
                            out_dir=str(root / "runs" / "smoke" / "model"))
    args = vars(parser.parse_args(argv))
    smoke, fresh = args.pop("smoke"), args.pop("fresh")
    return PretrainConfig(**args), fresh or smoke  # a smoke run always starts from scratch


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = sys.argv[1:] if argv is None else argv
    cfg, fresh = parse_args(args)
    train(cfg, fresh=fresh, command=" ".join(["python", "-m", "ftrag.pretrain", *map(shlex.quote, args)]))


if __name__ == "__main__":
    main()
