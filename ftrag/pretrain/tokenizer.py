"""The course tokenizer: byte-level BPE trained on World A with the ``tokenizers`` library.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerFast

from ftrag.files import read_examples, sha256
from ftrag.pretrain.config import PretrainConfig

EOT = "<|endoftext|>"  # the one special token: BOS, EOS and padding


# ----------------------------------------------------------------------------------------------------------
# Corpus and tokenizer


SPLIT_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{Ll}\p{L}*|\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE: every byte is a token, so text the corpus never held (a brace) still encodes."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    # GPT-2's split, except that a space before a capitalised word or a number is a token of its own: a name, a
    # town or a date is then the same tokens after a space, a quote or a bracket, so the model can copy it into
    # any format (JSON's `"Ulvard"` reuses the tokens of ` Ulvard`). Lower-case words keep their space.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    # Every encoded text starts with <|endoftext|> (as BOS): the first real token then has a context to be
    # predicted from, and the model sees the same start in training, perplexity and prompts.
    tok.post_processor = processors.TemplateProcessing(single=f"{EOT} $A", pair=f"{EOT} $A {EOT} $B",
                                                       special_tokens=[(EOT, tok.token_to_id(EOT))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT, pad_token=EOT,
                                   clean_up_tokenization_spaces=False)


def save_tokenizer(tokenizer, folder: Path, max_len: int) -> None:
    """Save so that AutoTokenizer.from_pretrained(folder) works with transformers 4 and 5 and no custom code."""
    tokenizer.model_max_length = max_len
    tokenizer.save_pretrained(folder)
    cfg_path = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"  # transformers 5 maps it to its TokenizersBackend
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")


def prepare_tokenizer(cfg: PretrainConfig, corpora: list[Path], work: Path, resuming: bool):
    """The run's tokenizer from work/tokenizer, trained (deterministically) when the corpus or vocab size changed."""

    tok_dir = work / "tokenizer"
    meta = tok_dir / "ftrag_tokenizer.json"  # what it was trained on
    key = {"corpus_sha256": [sha256(c) for c in corpora], "vocab_size": cfg.vocab_size,
           "max_examples": cfg.max_examples}
    old_key = json.loads(meta.read_text()) if meta.exists() else None
    if old_key == key:
        return AutoTokenizer.from_pretrained(tok_dir)
    if resuming and old_key is not None:
        raise SystemExit(f"the corpus or --vocab-size changed since the run in {work} started; rerun with --fresh "
                         "to start over on the new data, or use another --work-dir")
    t0 = time.time()
    texts = [e for c in corpora for e in read_examples(c, limit=cfg.max_examples)]  # fixed order: the same merges
    tmp = work / "tokenizer.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_tokenizer(train_tokenizer(texts, cfg.vocab_size), tmp, cfg.max_len)
    (tmp / meta.name).write_text(json.dumps(key) + "\n")
    shutil.rmtree(tok_dir, ignore_errors=True)
    os.replace(tmp, tok_dir)
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    print(f"trained the tokenizer: {len(tokenizer)} tokens from {len(texts):,} examples in {time.time() - t0:.0f}s")
    return tokenizer
