"""Early stopping on a validation score: train, score every few steps, keep the weights of the best evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ftrag.train.loop import TrainConfig, TrainResult, train
from ftrag.train.resume import load_trainable, trainable_state


def keep_if_best(best: dict, key: tuple, step: int, model) -> None:
    """Early stopping: keep the trained weights of an evaluation (not step 0) that beats every earlier one in
    ``best`` (a tie keeps the earlier, shorter run)."""
    if step and (best["key"] is None or key > best["key"]):
        best.update(key=key, step=step, weights=trainable_state(model))


def restore(model, weights: dict[str, torch.Tensor] | None) -> None:
    """Copy kept weights (``keep_if_best``'s) back into ``model``; nothing to do for ``None``."""
    if weights is not None:
        load_trainable(model, weights)


def train_selected(model, examples: Sequence[dict], config: TrainConfig, *, score: Callable[[object], Sequence[float]],
                   every: int, pad_id: int = 0, checkpoint=None, checkpoint_every: int = 10
                   ) -> tuple[TrainResult, list[dict]]:
    """``train`` with ``score(model)`` (a tuple of validation scores, higher is better, compared in order) taken
    before the first step and every ``every`` steps; the weights of the best evaluation after step 0 are copied back
    into ``model`` (a tie keeps the earlier step). Returns the result (``selected_step`` set) and the curve
    (``{"step", "scores"}`` per evaluation). ``checkpoint``: as ``train``'s, with the best weights and the curve."""
    curve: list[dict] = []
    best: dict = {"key": None, "step": 0, "weights": None}

    def get_state() -> dict:
        return {"curve": curve, "best": best}

    def set_state(saved: dict) -> None:
        curve[:] = saved["curve"]
        best.update(saved["best"], key=None if saved["best"]["key"] is None else tuple(saved["best"]["key"]))

    def eval_fn() -> float:
        key = tuple(float(v) for v in score(model))
        step = min(len(curve) * every, config.steps)
        curve.append({"step": step, "scores": [round(v, 4) for v in key]})
        keep_if_best(best, key, step, model)
        return key[0]

    result = train(model, examples, config, pad_id=pad_id, eval_fn=eval_fn, eval_every=every, checkpoint=checkpoint,
                   checkpoint_every=checkpoint_every, extra_state=(get_state, set_state))
    restore(model, best["weights"])
    result.selected_step, result.curve = best["step"], curve
    return result, curve
