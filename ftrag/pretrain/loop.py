"""The pretraining loop (nanoGPT-style): model, bf16 autocast where native, probes, checkpoints that resume; the
learning-rate schedule is fine-tuning's (``ftrag.train.lr_at``, by the share of the budget spent).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

from ftrag.files import read_examples
from ftrag.pretrain.config import COMPAT, PretrainConfig, check_config, default_paths
from ftrag.pretrain.data import collate, epoch_batches, load_probe_rows, tokenize_cached
from ftrag.pretrain.precision import resolve_precision
from ftrag.pretrain.report import probe_em, run_summary
from ftrag.pretrain.tokenizer import prepare_tokenizer, save_tokenizer
from ftrag.train.loop import lr_at

# ----------------------------------------------------------------------------------------------------------
# The model (its learning-rate schedule is ftrag.train.lr_at, shared with fine-tuning)


def build_model(cfg: PretrainConfig, tokenizer):
    """A fresh LlamaForCausalLM of the configured shape (seeded)."""

    eot = tokenizer.eos_token_id
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, num_hidden_layers=cfg.num_layers,
                         num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_heads,
                         intermediate_size=cfg.intermediate_size, max_position_embeddings=cfg.max_len,
                         rope_parameters={"rope_type": "default", "rope_theta": cfg.rope_theta},
                         tie_word_embeddings=True,  # saves vocab x hidden weights, a fifth of this small model
                         bos_token_id=eot, eos_token_id=eot, pad_token_id=eot)
    torch.manual_seed(cfg.seed)
    return LlamaForCausalLM(config)


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

    def count_step(self, phase: int, real: int, padded: int, seconds: float, minutes: bool) -> None:
        """Account for a step of ``phase`` on ``real`` tokens (``padded`` with padding) that took ``seconds``."""
        self.step, self.batch = self.step + 1, self.batch + 1
        self.tokens += real
        self.padded_tokens += padded
        self.train_seconds += seconds
        self.phase_used[phase] += seconds / 60 if minutes else real


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
# The run: set up (or resume), train through both phases, export


@dataclass
class Run:
    """What a run works with (``start_run`` makes it); ``state`` is what a checkpoint saves besides the weights."""

    work: Path  # the work dir: checkpoint, token caches, log
    ckpt_path: Path
    tokenizer: object
    data: list  # (tokens, offsets) of each phase's examples
    lengths: list  # token counts of each phase's examples
    model: LlamaForCausalLM
    opt: torch.optim.AdamW
    n_params: int
    state: TrainState
    log: JsonlLog
    probe_rows: dict


def start_run(cfg: PretrainConfig, fresh: bool) -> Run:
    """Tokenizer, tokenized corpora, model and optimizer: new, or restored from the work dir's checkpoint."""
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
    return Run(work, ckpt_path, tokenizer, data, lengths, model, opt, n_params, state, log, probe_rows)


@contextmanager
def stop_on_signal():
    """Ctrl-C / SIGTERM ask the loop to finish its step, checkpoint and stop (re-running the command resumes); a
    second Ctrl-C aborts. Yields the request: ``stop["asked"]``."""
    stop = {"asked": False}

    def ask_stop(signum, frame):
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        print("\nstopping after this step (checkpointing); press Ctrl-C again to abort")

    # (Signal handlers can only be set from the main thread; elsewhere, e.g. a worker thread, Ctrl-C just aborts.)
    in_main = threading.current_thread() is threading.main_thread()
    old_handlers = {s: signal.signal(s, ask_stop) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
    try:
        yield stop
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)


def train_step(model, opt, ids: torch.Tensor, labels: torch.Tensor, lr: float, bf16: bool,
               grad_clip: float) -> torch.Tensor:
    """One AdamW step at learning rate ``lr`` on a batch of (B, T) ids and labels; returns the batch's loss."""
    for group in opt.param_groups:
        group["lr"] = lr
    # No attention mask: with right padding a causal model's real tokens never see the padding, and
    # SDPA's is_causal path is faster than an explicit mask. The padding is out of the loss (labels -100).
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss


def probe(run: Run, phase: int) -> dict:
    """The EM probe on rc_test, written to the log."""
    result = probe_em(run.model, run.tokenizer, run.probe_rows)
    run.log.write(event="probe", step=run.state.step, phase=phase + 1, tokens=run.state.tokens, **result)
    return result


@dataclass
class LogWindow:
    """What the steps since the last log line add up to."""

    loss_sum: float = 0.0
    steps: int = 0
    tokens: int = 0  # real tokens
    seconds: float = 0.0  # in training steps

    def add(self, loss: float, tokens: int, seconds: float) -> None:
        self.loss_sum, self.steps = self.loss_sum + loss, self.steps + 1
        self.tokens, self.seconds = self.tokens + tokens, self.seconds + seconds


def run_phases(cfg: PretrainConfig, run: Run, stop: dict) -> None:
    """Train through both phases until their budgets are spent or a stop is asked; log, probe and checkpoint on the
    way (every ``log_every`` steps, ``probe_minutes``, ``ckpt_minutes``)."""
    state, tokenizer = run.state, run.tokenizer
    budgets = [cfg.phase1_budget, cfg.phase2_budget]
    scale = 60.0 if cfg.budget_unit == "minutes" else 1.0  # budgets in minutes are counted in seconds
    total = sum(budgets) * scale
    fmt = None if scale == 1 else "{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]"
    bar = tqdm(total=round(total), initial=min(sum(state.phase_used) * scale, round(total)), desc="pretrain",
               unit="tok" if scale == 1 else "s", unit_scale=scale == 1, bar_format=fmt, dynamic_ncols=True)
    start_wall = time.time() - state.elapsed
    last_ckpt = last_probe = time.time()
    window = LogWindow()
    plan, plan_key = None, None
    first_step = state.step
    run.model.train()
    try:
        if state.phase == 2 and state.phase_used[1] < budgets[1]:  # a finished run given a larger phase-2 budget
            state.phase = 1
        while state.phase < 2 and not stop["asked"]:
            p = state.phase
            if state.phase_used[p] >= budgets[p]:  # phase done: log a probe and move on
                tqdm.write(f"end of phase {p + 1}: step {state.step} {probe(run, p)}")
                last_probe = time.time()
                state.phase, state.epoch, state.batch = p + 1, 0, 0
                continue
            if plan_key != (p, state.epoch):
                plan_key = (p, state.epoch)
                plan = epoch_batches(run.lengths[p], cfg.batch_tokens, cfg.seed, p, state.epoch)
            if state.batch >= len(plan):
                state.epoch, state.batch = state.epoch + 1, 0
                continue

            t0 = time.perf_counter()
            ids, labels = collate(*run.data[p], plan[state.batch], tokenizer.pad_token_id)  # (B, T) each
            lr = lr_at(state.step, cfg, sum(state.phase_used) / sum(budgets))  # by the share of both budgets spent
            loss = train_step(run.model, run.opt, ids, labels, lr, state.bf16, cfg.grad_clip)
            dt = time.perf_counter() - t0

            real = int((labels != -100).sum())
            state.count_step(p, real, ids.numel(), dt, minutes=scale != 1)
            state.elapsed = time.time() - start_wall
            bar.update(min(real if scale == 1 else dt, max(bar.total - bar.n, 0)))  # the last step overshoots
            window.add(loss.item(), real, dt)
            if state.step % cfg.log_every == 0:
                tps, mean_loss = window.tokens / window.seconds, window.loss_sum / window.steps
                run.log.write(step=state.step, phase=p + 1, tokens=state.tokens, loss=round(mean_loss, 4), lr=lr,
                              elapsed=round(state.elapsed, 1), tok_per_s=round(tps))
                bar.set_postfix(phase=p + 1, loss=f"{mean_loss:.3f}", tok_s=f"{tps:,.0f}")
                window = LogWindow()
            now = time.time()
            if now - last_probe >= cfg.probe_minutes * 60:
                result = probe(run, p)
                tqdm.write(f"probe at step {state.step} (phase {p + 1}, {state.tokens:,} tokens): {result}")
                last_probe = now = time.time()
            if cfg.stop_after_steps and state.step - first_step >= cfg.stop_after_steps:
                stop["asked"] = True
            if now - last_ckpt >= cfg.ckpt_minutes * 60:
                save_checkpoint(run.ckpt_path, run.model, run.opt, state, cfg)
                last_ckpt = time.time()
    finally:
        bar.close()
    state.elapsed = time.time() - start_wall


def export_model(cfg: PretrainConfig, run: Run, command: str) -> dict:
    """Save the finished model to cfg.out_dir with its tokenizer, log and summary; returns the summary."""
    # Hugging Face format: loadable with AutoModelForCausalLM/AutoTokenizer alone.
    model, tokenizer = run.model, run.tokenizer
    model.eval()
    out = Path(cfg.out_dir)
    tmp = run.work / "final.tmp"
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
    summary = run_summary(cfg, run.state, model, tokenizer, run.n_params, run.probe_rows, command)
    shutil.copy(run.work / "training_log.jsonl", tmp / "training_log.jsonl")
    (tmp / "training_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    out.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():  # file by file: other files in out (a model card) stay
        os.chmod(f, 0o644)  # safetensors writes 0600; a shipped model should be readable by everyone
        os.replace(f, out / f.name)
    tmp.rmdir()
    print(json.dumps({k: summary[k] for k in ("steps", "tokens", "tokens_per_s", "final_probe", "heldout_ppl")}))
    print(f"saved the model to {out}")
    return summary


def train(cfg: PretrainConfig, fresh: bool = False, command: str = "") -> dict:
    """Train (or resume) the course model and save it to cfg.out_dir; returns the training summary ({} if stopped)."""
    default_paths(cfg)
    check_config(cfg)
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    run = start_run(cfg, fresh)
    with stop_on_signal() as stop:
        run_phases(cfg, run, stop)
    save_checkpoint(run.ckpt_path, run.model, run.opt, run.state, cfg)
    if run.state.phase < 2:
        print(f"stopped at step {run.state.step}; checkpoint saved in {run.ckpt_path}. Run the same command to resume.")
        return {}
    return export_model(cfg, run, command)
