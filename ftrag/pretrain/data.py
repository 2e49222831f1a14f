"""Pretraining batches: tokenized corpora cached on disk, length-bucketed batches of about 4k tokens, probes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ftrag.files import read_jsonl, sha256
from ftrag.lm import pad_right
from ftrag.pretrain.config import PretrainConfig


def tokenize_cached(examples_fn, corpus: Path, tokenizer, cache: Path, cfg: PretrainConfig):
    """(tokens, offsets) of every example as one flat uint16 array, BOS + text + EOS; cached in the work dir."""
    key = hashlib.sha256(json.dumps([sha256(corpus), tokenizer.backend_tokenizer.to_str(), cfg.max_len,
                                     cfg.max_examples]).encode()).hexdigest()[:16]
    path = cache.with_name(f"{cache.name}-{key}.npz")
    if path.exists():
        with np.load(path) as z:
            return z["tokens"], z["offsets"]
    examples = examples_fn()
    eos, rows, truncated = tokenizer.eos_token_id, [], 0
    for start in range(0, len(examples), 10_000):  # chunks: bounded memory for the Encoding objects
        for enc in tokenizer.backend_tokenizer.encode_batch(examples[start:start + 10_000]):
            ids = enc.ids + [eos]
            truncated += len(ids) > cfg.max_len
            rows.append(np.asarray(ids[:cfg.max_len], dtype=np.uint16))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    tokens = np.concatenate(rows)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, tokens=tokens, offsets=offsets)
    os.replace(tmp, path)  # atomic: a killed run never leaves half a cache behind
    print(f"tokenized {corpus.name}: {len(rows):,} examples, {len(tokens):,} tokens "
          f"({truncated} truncated to {cfg.max_len})")
    return tokens, offsets


# ----------------------------------------------------------------------------------------------------------
# Batches: one example per row, similar lengths together, padding masked out of the loss


def epoch_batches(lengths: np.ndarray, batch_tokens: int, seed: int, phase: int, epoch: int) -> list[np.ndarray]:
    """Example indices of each batch of one epoch; the same (seed, phase, epoch) always gives the same plan."""
    rng = np.random.default_rng([seed, phase, epoch])
    perm = rng.permutation(len(lengths))
    batches = []
    # Sort within random chunks, not globally: batches have little padding, yet lengths still mix across steps.
    for chunk in np.array_split(perm, max(1, len(perm) // 8192)):
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        start = 0
        while start < len(chunk):
            end = start + 1  # rows are sorted ascending, so the last row is the longest
            while end < len(chunk) and (end + 1 - start) * lengths[chunk[end]] <= batch_tokens:
                end += 1
            batches.append(chunk[start:end])
            start = end
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def collate(tokens: np.ndarray, offsets: np.ndarray, rows: np.ndarray, pad_id: int):
    """Right-padded input ids and labels (-100 on padding), both (B, T)."""
    ids, mask = pad_right([tokens[offsets[i]:offsets[i + 1]].astype(np.int64) for i in rows], pad_id)
    return ids, ids.masked_fill(mask == 0, -100)


def load_probe_rows(path: Path, n: int) -> dict[int, list[dict]]:
    """Probe rows of rc_test.jsonl by number of distractors: the first n rows (0), the first n with 3+ passages (2)."""
    rows = read_jsonl(path)
    return {0: rows[:n], 2: [r for r in rows if len(r["passages"]) >= 3][:n]}
