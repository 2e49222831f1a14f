"""A lesson's headline claims: asserted on the course model, reported (not asserted) on any other model.

On Colab a learner may run a lesson on a real model (``FTRAG_MODEL``); the same cell then prints whether each
claim held there, so they see which conclusions carry over instead of a failed assertion.
"""

from __future__ import annotations

from ftrag.lm import DEFAULT_MODEL


def is_course_model(model) -> bool:
    """Whether ``model`` is the course's own model (the claims were made for it)."""
    return str(getattr(model, "name_or_path", "")).rstrip("/").endswith(f"models/{DEFAULT_MODEL}")


def claim(model, holds: bool, statement: str) -> None:
    """Assert ``statement`` for the course model; for another model print whether it held.

    Returns nothing, so a notebook cell that ends with a claim shows only the printed line.
    """
    if is_course_model(model):
        assert holds, f"claim failed on the course model: {statement}"
        print(f"claim holds: {statement}")
    else:
        print(f"{'claim holds' if holds else 'claim does NOT hold'} for {model.name_or_path}: {statement}")


def claim_if(asserted: bool, holds: bool, statement: str, where: str = "on your documents") -> None:
    """Assert ``statement`` where ``asserted`` (a lesson's own data, e.g. lesson 06's sample corpus); elsewhere print
    whether it held ``where``, as :func:`claim` does for another model."""
    if asserted:
        assert holds, f"claim failed: {statement}"
        print(f"claim holds: {statement}")
    else:
        print(f"{'claim holds' if holds else 'claim does NOT hold'} {where}: {statement}")
