"""Lab feedback: checks that say what is wrong and what to try, instead of a bare ``AssertionError``.

Each lesson's exercises have their checks in ``ftrag.check.lNN``; they are built from the pieces here.
A failed check raises :class:`CheckFailed`, which Jupyter shows as one readable message (no traceback).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class CheckFailed(AssertionError):
    """A lab check that did not pass; the message says what to fix."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"\u274c {self.args[0] if self.args else 'check failed'}"]


def passed(what: str) -> None:
    """Report a passed check."""
    print(f"\u2705 {what}")


def fail(message: str) -> None:
    """Fail a check with a message that tells the learner what to do."""
    raise CheckFailed(message)


def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        fail(message)


def _is_stub(value: Any) -> bool:
    return value is Ellipsis or value is NotImplemented


def expect_filled(value: Any, name: str) -> None:
    """Fail if an answer is still the lab's placeholder (``...``)."""
    expect(not _is_stub(value), f"`{name}` is still `...`: replace it with your answer, run that cell, then this one.")


def call_solution(fn: Callable, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
    """Call the learner's function; a stub or a crash becomes a readable failed check."""
    label = name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        fail(f"`{label}` should be a function, got {type(fn).__name__}: define it with `def {label}(...)`.")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        fail(f"`{label}` still raises NotImplementedError: replace the `raise NotImplementedError` line with "
             f"your code, run that cell, then this one.")
    except CheckFailed:
        raise
    except Exception as exc:  # the learner's bug: show its type and message, not our stack
        fail(f"`{label}{_args_repr(args, kwargs)}` raised {type(exc).__name__}: {exc}")


def _args_repr(args: tuple, kwargs: dict) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"({', '.join(parts)})"


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def expect_equal(got: Any, want: Any, what: str, hint: str = "") -> None:
    """Fail unless ``got == want``, showing both."""
    if _is_stub(got):
        fail(f"{what}: the answer is still `...`; fill it in first.")
    if got != want:
        fail(f"{what}: expected {_short(want, 80)}, got {_short(got, 80)}." + (f" Hint: {hint}" if hint else ""))


def expect_close(got: Any, want: float, what: str, tol: float = 1e-4, hint: str = "") -> None:
    """Fail unless ``got`` is a number within ``tol`` (relative or absolute) of ``want``."""
    if _is_stub(got):
        fail(f"{what}: the answer is still `...`; fill it in first.")
    try:
        value = float(got)
    except (TypeError, ValueError):
        fail(f"{what}: expected a number, got {type(got).__name__} {_short(got)}.")
    if not math.isclose(value, want, rel_tol=tol, abs_tol=tol):
        fail(f"{what}: expected about {want:.6g}, got {value:.6g}." + (f" Hint: {hint}" if hint else ""))
