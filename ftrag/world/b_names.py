"""Invented proper names for World B, the company the course model never sees in pretraining.

Every name is built from syllables with a rare letter cluster (``q`` without ``u``, ``x``, ``z``, ``vr``, ``lv``,
``y`` as a vowel...), so that it is neither an English word nor a World A name: a test greps the pretraining
corpus for each one and expects zero hits. The generator is seeded, so World B and the dialect (which reuses
these people, teams and systems in its memos) always agree on the names.
"""

from __future__ import annotations

import random

ONSETS = ["b", "br", "d", "dr", "k", "kr", "m", "n", "p", "s", "t", "th", "tr", "v", "vr", "z", "h", "f", "g",
          "l", "j", "q", "qu", "y"]
NUCLEI = ["a", "e", "i", "o", "u", "a", "e", "o", "ae"]
MIDDLES = ["lv", "rv", "lq", "rq", "nd", "rk", "lt", "sk", "rn", "ll", "v", "z", "x", "lz", "ndr", "tq", "vr"]
ENDINGS = ["ane", "ist", "or", "en", "ara", "ix", "ette", "oth", "is", "und", "ael", "ora", "ess", "ick", "eth",
           "orn", "esk", "ille", "ast", "ira", "olm", "ary", "ov", "anth", "oss", "ar", "elle", "quist", "wen",
           "ond", "ric", "ena", "ian"]
# A name must contain one of these; none of them is common inside English words.
RARE = ("q", "x", "z", "vr", "lv", "rv", "ndr")
# Clusters that read badly or come close to English words or to World A names (found by checking the output
# against a dictionary and World A's names); the generator skips any name containing one.
AVOID = ("quill", "zem", "yar", "tess", "vel", "quen", "sorv", "norv", "marr", "kall", "lorr", "dov",
         "kalv", "brenm", "mirr", "orv", "tall", "pell", "jorv", "ulv", "varn", "quin", "vard", "zand", "kast",
         "ynd", "lyn", "syn", "xix", "qq", "uu", "rr", "vrq", "rvq", "lvq", "ville")


def _candidate(rng: random.Random) -> str:
    onset = rng.choice(ONSETS)
    word = onset + rng.choice(NUCLEI) + rng.choice(MIDDLES) + rng.choice(ENDINGS)
    return word.capitalize()


def invented_words(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """``count`` new distinctive capitalised words of 6-9 letters, none in ``taken`` (which grows)."""
    out: list[str] = []
    while len(out) < count:
        word = _candidate(rng)
        low = word.lower()
        if not 6 <= len(word) <= 9 or word in taken:
            continue
        if not any(cluster in low for cluster in RARE) or any(bad in low for bad in AVOID):
            continue
        # No two names may share a 5-letter prefix: keeps them apart for a reader and for retrieval.
        if any(other[:5] == word[:5] for other in taken):
            continue
        taken.add(word)
        out.append(word)
    return out
