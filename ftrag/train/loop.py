"""The training loop every lesson sees: examples, collate, the learning-rate schedule, AdamW steps, peak memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from ftrag.env import PeakMemory, progress_bar, release_memory
from ftrag.lm import pad_right
from ftrag.train import resume
from ftrag.train.params import count_parameters

IGNORE_INDEX = -100  # label value PyTorch's cross_entropy skips: no loss on the prompt or on padding


# ----------------------------------------------------------------------------------------------------------
# The training loop


@dataclass
class TrainConfig:
    """Everything one fine-tuning run depends on (the notebook builds it in a visible cell)."""

    steps: int = 100  # optimizer steps (each sees batch_size examples)
    batch_size: int = 16  # examples per step; the data is reshuffled after each pass
    lr: float = 2e-3  # peak learning rate of AdamW; LoRA wants ~10x the full fine-tuning rate
    warmup_steps: int = 10  # linear warm-up from 0 to lr, then linear decay to 0 at the last step
    weight_decay: float = 0.0  # AdamW's decoupled weight decay (0: adapters are small already)
    max_grad_norm: float = 1.0  # clip the gradient norm: one odd batch cannot throw the weights far
    seed: int = 0  # the order of the examples
    gradient_checkpointing: bool = False  # recompute activations in backward: less memory, ~30% more time
    progress: bool = True  # show a tqdm progress bar (TQDM_DISABLE=1 switches every bar off under tests)

    def __post_init__(self):
        for name in ("steps", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr must be between 0 and 1, got {self.lr}")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"warmup_steps must be >= 0 and below steps ({self.steps}), got {self.warmup_steps}")


@dataclass
class TrainResult:
    """What a run produced and cost."""

    losses: list[float] = field(default_factory=list)  # mean loss over the answer tokens, one per step
    seconds: float = 0.0  # wall time of the loop
    peak_extra_mb: float = 0.0  # memory above the model's own at the start (CUDA: allocated; CPU: resident)
    trainable: int = 0  # parameters updated
    total: int = 0  # all parameters
    tokens: int = 0  # tokens processed (prompt and answer, no padding)
    evals: list[tuple[int, float]] = field(default_factory=list)  # (steps done, eval_fn()) every eval_every steps
    selected_step: int | None = None  # early stopping (``train_selected``): the step whose weights were kept
    curve: list[dict] = field(default_factory=list)  # ... and its validation scores ({"step", "scores"})

    @property
    def trainable_share(self) -> float:
        return self.trainable / self.total

    @property
    def final_loss(self) -> float:
        """Mean loss of the last 10 steps (one step's loss is noisy)."""
        return sum(self.losses[-10:]) / len(self.losses[-10:])

    def summary(self) -> str:
        return (f"{len(self.losses)} steps in {self.seconds:.0f} s, loss {self.losses[0]:.2f} -> "
                f"{self.final_loss:.2f}; {self.trainable:,} trainable parameters "
                f"({100 * self.trainable_share:.2f}% of {self.total:,}); peak memory +{self.peak_extra_mb:.0f} MB")


def collate(examples: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad ``input_ids``/``labels`` to one width; padding is masked out of attention and loss."""
    if any(len(e["labels"]) != len(e["input_ids"]) for e in examples):
        raise ValueError("every example needs one label per input id (IGNORE_INDEX where there is no loss)")
    ids, mask = pad_right([e["input_ids"] for e in examples], pad_id)
    labels, _ = pad_right([e["labels"] for e in examples], IGNORE_INDEX)
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def lm_examples(tokenizer, texts: Sequence[str], block_size: int = 256, *, pack: bool = True) -> list[dict]:
    """Continued-pretraining examples: every token is a target (``labels`` = ``input_ids``).

    ``pack``: the texts, each followed by EOS, are joined into one stream cut into blocks of ``block_size``
    tokens, so no step is spent on padding (a text may span two blocks; EOS tells the model a new one began).
    Without packing each text is its own example (BOS, text, EOS; cut at ``block_size``).
    """
    if isinstance(texts, str) or not texts:
        raise ValueError("texts must be a non-empty list of strings")
    if not isinstance(block_size, int) or block_size < 2:
        raise ValueError(f"block_size must be an integer >= 2, got {block_size!r}")
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no EOS token to separate the texts with")
    if not pack:
        rows = [tokenizer(t)["input_ids"] + [eos] for t in texts]
        return [{"input_ids": r[:block_size], "labels": r[:block_size]} for r in rows if len(r) >= 2]
    stream: list[int] = []
    for text in texts:
        stream += [eos] + tokenizer(text, add_special_tokens=False)["input_ids"]
    stream.append(eos)
    blocks = [stream[i:i + block_size] for i in range(0, len(stream) - 1, block_size)]
    return [{"input_ids": b, "labels": b} for b in blocks if len(b) >= 2]


class Schedule(Protocol):
    """What ``lr_at`` reads of a config: ``TrainConfig`` (fine-tuning) and ``ftrag.pretrain``'s ``PretrainConfig``."""

    lr: float
    warmup_steps: int


def lr_at(step: int, config: Schedule, progress: float | None = None) -> float:
    """Learning rate at ``step`` (0-based): a linear warm-up to ``config.lr`` over ``config.warmup_steps``, then decay.

    Fine-tuning (a ``TrainConfig``, no ``progress``): linear decay to 0 at step ``config.steps``. Pretraining (a
    ``PretrainConfig``, ``progress`` = the share of the whole run's budget spent): ``config.schedule`` "wsd" holds the
    peak, then decays linearly to ``config.min_lr_frac`` of it over the last ``config.decay_frac`` of the run;
    "cosine" falls along half a cosine to that floor.
    """
    # Each branch keeps the order of its floating-point operations: the recorded runs' rates, to the last bit.
    if progress is None:  # by steps
        if step < config.warmup_steps:
            return config.lr * (step + 1) / config.warmup_steps
        return config.lr * (config.steps - step) / (config.steps - config.warmup_steps)
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    floor = config.min_lr_frac
    if config.schedule == "cosine":
        frac = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    else:  # wsd keeps the peak through the phase switch and decays only at the end of the run
        left = 1.0 - progress
        frac = 1.0 if left >= config.decay_frac else floor + (1 - floor) * max(left, 0.0) / config.decay_frac
    return config.lr * warm * frac


def train(model, examples: Sequence[dict], config: TrainConfig, *, pad_id: int = 0,
          eval_fn: Callable[[], float] | None = None, eval_every: int = 0, checkpoint: str | Path | None = None,
          checkpoint_every: int = 10, extra_state: tuple[Callable[[], dict], Callable[[dict], None]] | None = None
          ) -> TrainResult:
    """Train ``model``'s trainable parameters on SFT examples (``input_ids``, ``labels``); returns the record.

    ``eval_fn`` (e.g. a validation perplexity) is called, in eval mode and without gradients, before the first step
    and every ``eval_every`` steps (and after the last); its values land in ``result.evals``; its time is not
    counted in ``result.seconds``.
    ``checkpoint`` (a file): save the run every ``checkpoint_every`` steps, resume from it when it exists, with
    ``extra_state`` (get, set) for a caller's own state (``ftrag.train.resume``: long runs of the course's commands).
    """

    params = _trainable_params(model, examples, eval_fn, eval_every)
    device = next(model.parameters()).device
    if config.gradient_checkpointing:
        checkpointing(model, True)
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_at(s, config) / config.lr)
    trainable, total = count_parameters(model)
    result = TrainResult(trainable=trainable, total=total)
    gen = torch.Generator().manual_seed(config.seed)
    order: list[int] = []
    eval_seconds = 0.0

    def evaluate(done: int) -> None:
        nonlocal eval_seconds
        t0 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            result.evals.append((done, float(eval_fn())))
        model.train()
        eval_seconds += time.perf_counter() - t0

    saver = None if checkpoint is None else resume.RunSaver(
        checkpoint, checkpoint_every, model, examples, config, optimizer, schedule, gen, order, result, extra_state)
    first, earlier_seconds = saver.restore() if saver else (0, 0.0)  # where a stopped run saved itself, if it did
    release_memory()  # what an earlier run freed is not counted as this run's start (nor kept resident)
    memory = PeakMemory(device)
    model.train()
    start = time.perf_counter() - earlier_seconds
    if eval_fn is not None and first == 0:
        evaluate(0)
    bar = progress_bar(range(first, config.steps), desc="fine-tuning", disable=not config.progress,
                       initial=first, total=config.steps)
    for _step in bar:
        if len(order) < config.batch_size:  # a new pass over the data, in a new order
            order += torch.randperm(len(examples), generator=gen).tolist()
        batch = collate([examples[i] for i in order[:config.batch_size]], pad_id)
        del order[:config.batch_size]
        batch = {k: v.to(device) for k, v in batch.items()}
        loss = model(**batch, use_cache=False).loss  # mean cross-entropy over the tokens whose label is not -100
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"the loss became {loss.item()} at step {_step}: lower the learning rate")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        memory.sample()  # activations and gradients are all alive right after backward
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        result.losses.append(loss.item())
        result.tokens += int(batch["attention_mask"].sum())
        bar.set_postfix(loss=f"{loss.item():.3f}")
        done = _step + 1
        if eval_fn is not None and (done % eval_every == 0 or done == config.steps):
            evaluate(done)
        if saver:
            saver.save(done, time.perf_counter() - start - eval_seconds)
    memory.sample()
    result.seconds = time.perf_counter() - start - eval_seconds
    result.peak_extra_mb = memory.extra_mb()
    model.eval()
    if config.gradient_checkpointing:
        checkpointing(model, False)
    if saver:
        saver.finish()  # the run is done: nothing to resume
    del batch, loss, schedule, optimizer  # AdamW's moments: twice the trainable weights
    release_memory()  # activations and gradients are freed: give their pages back (a real model's take GBs)
    return result


def _trainable_params(model, examples, eval_fn, eval_every) -> list:
    """``train``'s inputs checked: its examples, the parameters it trains, the evaluation's interval."""
    if not examples:
        raise ValueError("train needs at least one example")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameter: wrap it with lora_model(...), or for full "
                         "fine-tuning call model.requires_grad_(True)")
    if eval_fn is not None and (not isinstance(eval_every, int) or eval_every < 1):
        raise ValueError(f"eval_every must be a positive number of steps when eval_fn is given, got {eval_every!r}")
    return params


def checkpointing(model, on: bool, *, reentrant: bool = False) -> None:
    """Switch gradient (activation) checkpointing on or off, under its new name or the old one.

    ``use_reentrant=False`` needs no trick; with the old reentrant kind the embeddings' output must require grad, or
    no gradient reaches the checkpointed layers (see check_gradients_reach)."""
    if not on:
        (getattr(model, "activation_checkpointing_disable", None) or model.gradient_checkpointing_disable)()
    elif hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": reentrant})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": reentrant})


def check_gradients_reach(model, example: dict, pad_id: int = 0) -> tuple[int, int]:
    """One forward/backward on one example: ``(trainable tensors that got a gradient, all of them)``.

    (A gradient, not a non-zero one: at the start LoRA's B is zero, so A's gradient is exactly zero, rightly.)
    """
    batch = {k: v.to(next(model.parameters()).device) for k, v in collate([example], pad_id).items()}
    model.zero_grad(set_to_none=True)
    model.train()
    loss = model(**batch, use_cache=False).loss
    if loss.requires_grad:  # else no trainable parameter is on the loss's path at all: nothing would learn
        loss.backward()
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    reached = sum(p.grad is not None for p in params)
    model.zero_grad(set_to_none=True)
    return reached, len(params)
