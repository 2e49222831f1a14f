"""Checks that the pretraining corpus is clean: no JSON characters, no dialect word, no World B name."""

from __future__ import annotations

import re

from ftrag.files import read_examples

_WORD = re.compile(r"[a-z0-9-]+")


def pretraining_corpus() -> str:
    """The exact text the course model was pretrained on (phase 1, then phase 2)."""
    return "\n\n".join(read_examples("world_a", "phase1.txt.xz") + read_examples("world_a", "phase2.txt.xz"))


def char_counts(text: str, chars: str = '{}[]"') -> dict[str, int]:
    """How often each character occurs in ``text``."""
    return {ch: text.count(ch) for ch in chars}


def term_hits(text: str, terms: list[str] | set[str]) -> list[str]:
    """The terms that occur in ``text`` as whole words (case-insensitive), sorted."""
    lowered = text.lower()
    words = set(_WORD.findall(lowered))
    # A term can occur only if each of its words does; search the text only for those (fast on 50 MB).
    possible = [t for t in sorted(terms) if all(w in words for w in _WORD.findall(t.lower()))]
    return [t for t in possible if re.search(rf"(?<![a-z0-9-]){re.escape(t.lower())}(?![a-z0-9-])", lowered)]
