"""What nbval compares exactly, and the measured floats it compares by value (installed by the root conftest.py).

Text and integers (counts, token ids, shapes, step numbers) must equal the committed output, character for
character except runs of spaces (below). A number printed with a decimal point is a measurement, and measurements
move from one CPU to another (AVX2 vs AVX-512 vs arm64, thread counts, BLAS builds): a sum in another order
changes the last bits of a float, a trained model drifts a little further, and a greedy answer can flip. So a
float is compared by value:

- by default it may differ by 0.1% of its value (a perplexity or a loss in its fourth significant digit), or by
  one unit of its last printed digit (a value that rounds to the other side of a boundary: 11.396 vs 11.397);
- runs of spaces need not match (a table's columns widen or narrow with their values);
- a cell whose floats are rates over a few hundred greedy answers states its own tolerance and why, in a comment
  line like ``# NBVAL_TOLERANCE 0.01: exact-match rates over 200 questions may move by two answers``
  (an absolute tolerance) or ``# NBVAL_TOLERANCE 2%: ...`` (relative).

The lessons' claims are not affected: they are ``claim()`` assertions inside the cells, with their own margins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbformat import from_dict

# A float as printed: optional sign, digits with optional thousands separators, a decimal point, an optional exponent.
FLOAT = re.compile(r"(?<![\w.])(-?\d{1,3}(?:,\d{3})+\.\d+|-?\d+\.\d+(?:[eE][-+]?\d+)?)(?![\w.])")
MARKER = re.compile(r"^\s*#\s*NBVAL_TOLERANCE\s+([0-9.]+)(%?)\s*:\s*\S", re.M)
SPACES = re.compile(r"[ ]+")
DEFAULT_RELATIVE = 1e-3


@dataclass(frozen=True)
class Tolerance:
    absolute: float = 0.0  # a float may differ by this much ...
    relative: float = DEFAULT_RELATIVE  # ... or by this share of the reference value

    def allows(self, ref_text: str, test_text: str) -> bool:
        ref, test = (float(t.replace(",", "")) for t in (ref_text, test_text))
        mantissa, _, exponent = ref_text.replace(",", "").lower().partition("e")
        last_digit = 10.0 ** (int(exponent or 0) - len(mantissa.partition(".")[2]))  # one unit of its last digit
        slack = max(self.absolute, self.relative * abs(ref), last_digit) * (1 + 1e-9)
        return abs(test - ref) <= slack


def tolerance_of(source: str) -> Tolerance:
    """The tolerance a cell states (``# NBVAL_TOLERANCE x: why`` or ``x%: why``), else the default."""
    found = MARKER.findall(source)
    if not found:
        if "NBVAL_TOLERANCE" in source:
            raise ValueError("write the tolerance as '# NBVAL_TOLERANCE 0.01: why this much' (or '2%: why')")
        return Tolerance()
    (value, percent), *rest = found
    if rest:
        raise ValueError("a cell states one NBVAL_TOLERANCE")
    return Tolerance(relative=float(value) / 100) if percent else Tolerance(absolute=float(value))


def reconcile(ref: str, test: str, tolerance: Tolerance) -> str:
    """``ref`` if ``test`` says the same with its floats within tolerance, else ``test`` (an exact comparison then
    fails and shows the difference). A table's columns may widen or narrow with its values (pandas pads to the
    widest), so runs of spaces need not match; every other character must."""
    ref_parts, test_parts = FLOAT.split(ref), FLOAT.split(test)
    if len(ref_parts) != len(test_parts):
        return test
    for i, (r, t) in enumerate(zip(ref_parts, test_parts, strict=True)):
        same = tolerance.allows(r, t) if i % 2 else SPACES.sub(" ", r) == SPACES.sub(" ", t)
        if not same:
            return test
    return ref


def _kind(output: dict) -> tuple:
    return output.get("output_type"), output.get("name")


def reconcile_outputs(ref: list, test: list, tolerance: Tolerance, sanitize=lambda s: s) -> list:
    """``test``'s outputs, each reconciled with the reference output of its kind at the same place among that kind
    (the n-th stdout with the n-th stdout, ...: a warning on stderr on one machine does not shift the others).

    ``sanitize`` (nbval's, from tests/sanitize.cfg) is applied to both first, so that a table whose column holds a
    time ("28 s" here, "112 s" on a slower machine: TIME in both) may still differ in its padding only."""
    by_kind: dict[tuple, list] = {}
    for output in ref:
        by_kind.setdefault(_kind(output), []).append(output)
    seen: dict[tuple, int] = {}
    out = []
    for output in test:
        kind = _kind(output)
        n = seen[kind] = seen.get(kind, -1) + 1
        refs = by_kind.get(kind, [])
        out.append(_reconcile_output(refs[n], output, tolerance, sanitize) if n < len(refs) else output)
    return out


def _reconcile_output(ref: dict, test: dict, tolerance: Tolerance, sanitize) -> dict:
    new = dict(test)
    if isinstance(ref.get("text"), str) and isinstance(test.get("text"), str):
        new["text"] = reconcile(sanitize(ref["text"]), sanitize(test["text"]), tolerance)
    if isinstance(ref.get("data"), dict) and isinstance(test.get("data"), dict):
        data = dict(test["data"])
        for key, value in data.items():
            if isinstance(value, str) and isinstance(ref["data"].get(key), str) and not key.startswith("image/"):
                data[key] = reconcile(sanitize(ref["data"][key]), sanitize(value), tolerance)
        new["data"] = data
    return from_dict(new)


def install() -> None:
    """Make nbval compare measured floats by value (see the module's docstring)."""
    from nbval.plugin import IPyNbCell

    exact = IPyNbCell.compare_outputs
    if getattr(exact, "_ftrag_tolerant", False):
        return

    def compare_outputs(self, test, ref, skip_compare=None):
        tolerance = tolerance_of(self.cell.source)
        return exact(self, reconcile_outputs(ref, test, tolerance, self.sanitize), ref, skip_compare)

    compare_outputs._ftrag_tolerant = True
    IPyNbCell.compare_outputs = compare_outputs
