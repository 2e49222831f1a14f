"""Checks for the lab of lesson 00 (Start here)."""

from __future__ import annotations

from ftrag.check import call_solution, expect, expect_equal, expect_filled, passed
from ftrag.env import get_device


def check_count_chars(count_chars) -> None:
    """Exercise 1: count how often any of the given characters occurs in a text."""
    cases = [("{a: [1, 2]}", "{}[]", 4), ("no braces here", "{}", 0), ("", "{", 0), ('say "hi"', '"', 2)]
    for text, chars, want in cases:
        got = call_solution(count_chars, text, chars, name="count_chars")
        expect_equal(got, want, f"count_chars({text!r}, {chars!r})",
                     hint="count every character of `text` that is in `chars`, e.g. with sum(... for ch in text)")
    passed("count_chars counts characters correctly")


def check_reproducible_draw(reproducible_draw) -> None:
    """Exercise 2: the same seed gives the same numbers, another seed other numbers."""
    first = call_solution(reproducible_draw, 7, name="reproducible_draw")
    expect(isinstance(first, list) and len(first) == 3 and all(isinstance(x, float) for x in first),
           f"reproducible_draw(7) should return a list of 3 floats, got {first!r}; try torch.rand(3).tolist()")
    expect_equal(call_solution(reproducible_draw, 7, name="reproducible_draw"), first,
                 "a second reproducible_draw(7)", hint="call seed_everything(seed) before drawing")
    expect(call_solution(reproducible_draw, 8, name="reproducible_draw") != first,
           "reproducible_draw(8) gave the same numbers as seed 7: pass the seed through to seed_everything")
    passed("same seed, same numbers; another seed, other numbers")


def check_device(device) -> None:
    """Exercise 3: the device string the course will use."""

    expect_filled(device, "device")
    expect_equal(device, get_device(), "device", hint="call get_device() from ftrag")
    passed(f"the course will run on {device!r}")


def check_missing_chars(missing_chars) -> None:
    """Exercise 4: the characters of an alphabet that a text never contains, in the alphabet's order."""
    cases = [("hello world", "abcdeh", ["a", "b", "c"]), ("", "xy", ["x", "y"]), ("xyz", "zyx", []),
             ("abc", "zay", ["z", "y"]), ("no brackets (here)", "([{", ["[", "{"]), ("aaa", "bab", ["b"]),
             ('say "hi"', '"!', ["!"])]
    for text, alphabet, want in cases:
        got = call_solution(missing_chars, text, alphabet, name="missing_chars")
        expect(isinstance(got, list), f"missing_chars should return a list of characters, got {type(got).__name__}")
        expect_equal(got, want, f"missing_chars({text!r}, {alphabet!r})",
                     hint="keep each character of `alphabet` (in its order, once) that is not in set(text)")
    passed("missing_chars finds what a text never contains")
