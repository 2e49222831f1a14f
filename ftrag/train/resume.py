"""Checkpoints that let a long fine-tuning run resume at its last saved step instead of starting over.

``train(..., checkpoint=path, checkpoint_every=10)`` saves, every ``checkpoint_every`` steps, what the rest of the
run depends on: the trainable weights, AdamW's moments, the schedule's step, the data order and its generator, the
global RNG, and the record so far (losses, tokens, evaluations, seconds; ``train_selected`` adds its best weights and
curve). Run the same call again and it goes on from there; the losses are those of the run that was not stopped. A
checkpoint made by another run (other config, examples or trainable parameters) is refused with what differs. A
finished run deletes its checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch


def fingerprint(model, examples, config) -> dict:
    """What must match for a checkpoint to belong to this run (the progress bar and gradient checkpointing, which
    gives the same gradients, do not count)."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in ("progress", "gradient_checkpointing")}
    params = [[n, list(p.shape)] for n, p in model.named_parameters() if p.requires_grad]
    return {"config": settings, "examples": len(examples),
            "tokens": sum(len(e["input_ids"]) for e in examples), "trainable": params}


def save(path: str | Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically (a run killed mid-save keeps its previous checkpoint)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load(path: str | Path, expected: dict) -> dict | None:
    """The checkpoint at ``path`` (None when there is none); an error naming what differs when it is another run's."""
    path = Path(path)
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("fingerprint") != expected:
        theirs = state.get("fingerprint") or {}
        diff = [k for k in expected if theirs.get(k) != expected[k]]
        raise ValueError(f"{path} is a checkpoint of another run (its {', '.join(diff) or 'format'} differ): delete it "
                         "to start this run over, or resume with the settings that made it")
    return state


def trainable_state(model) -> dict[str, torch.Tensor]:
    """The trainable parameters' values, by name (all a run changes)."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable(model, weights: dict[str, torch.Tensor]) -> None:
    """Copy saved trainable values back into ``model``."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)


class RunSaver:
    """One run's checkpoint file, bound to the run's objects (``train`` makes it): ``restore`` puts what a stopped
    run saved back into them, ``save`` writes them every ``every`` steps (not after the last), ``finish`` deletes the
    file. ``order`` (the data order) is a list ``train`` changes in place; ``result`` its ``TrainResult``."""

    def __init__(self, path, every: int, model, examples, config, optimizer, schedule, generator, order: list,
                 result, extra_state=None):
        if every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {every}")
        self.path, self.every, self.steps, self.extra = Path(path), every, config.steps, extra_state
        self.expected = fingerprint(model, examples, config)
        self.model, self.optimizer, self.schedule, self.generator = model, optimizer, schedule, generator
        self.order, self.result = order, result

    def restore(self) -> tuple[int, float]:
        """Load the checkpoint, if there is one; returns (steps done, seconds they took), (0, 0.0) without."""
        saved = load(self.path, self.expected)
        if saved is None:
            return 0, 0.0
        load_trainable(self.model, saved["weights"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.schedule.load_state_dict(saved["schedule"])
        self.generator.set_state(saved["generator"])
        torch.set_rng_state(saved["rng"])
        self.order[:] = saved["order"]
        self.result.losses[:], self.result.tokens = saved["losses"], saved["tokens"]
        self.result.evals[:] = [tuple(e) for e in saved["evals"]]
        if self.extra is not None:
            self.extra[1](saved["extra"])
        print(f"resumed from {self.path} at step {saved['done']} of {self.steps}", flush=True)
        return saved["done"], saved["seconds"]

    def save(self, done: int, seconds: float) -> None:
        """After step ``done`` (and its evaluation): save when it is a multiple of ``every`` and not the last."""
        if done % self.every or done >= self.steps:
            return
        save(self.path, {
            "fingerprint": self.expected, "done": done, "weights": trainable_state(self.model),
            "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(), "order": self.order,
            "generator": self.generator.get_state(), "rng": torch.get_rng_state(), "losses": self.result.losses,
            "tokens": self.result.tokens, "evals": self.result.evals, "seconds": seconds,
            "extra": self.extra[0]() if self.extra is not None else {}})

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)
