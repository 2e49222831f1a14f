"""Loading a model and using it: the prompt format, generation, exact match and perplexity.

Every lesson goes through these few functions, so the course model (``course-lm``, trained by
``python -m ftrag.pretrain``) and a hub model (e.g. ``HuggingFaceTB/SmolLM2-135M``) are used the same way.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import math
import os
import re
import socket
import string
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F

from ftrag.env import get_device
from ftrag.paths import data_path

DEFAULT_MODEL = "course-lm"
MODEL_ENV = "FTRAG_MODEL"  # selects the model for a whole run when a lesson passes name=None
# Aliases for the models the course ships, as paths inside data/.
COURSE_MODELS = {
    "course-lm": ("models", "course-lm"),  # the reader every lesson uses
    "course-lm-small": ("models", "course-lm-small"),  # a weaker reader, to show that RAG needs a capable model
}
# "org/name", as the Hugging Face Hub spells ids, or a bare "name" for its oldest models ("gpt2", "distilgpt2")
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")


class ModelUnavailableError(RuntimeError):
    """A model could not be loaded (hub unreachable, missing files); the message says what to do instead."""


class ModelNotFoundError(ModelUnavailableError, FileNotFoundError):
    """A model name that reads as a local path names no folder (caught as either base class)."""


# ----------------------------------------------------------------------------------------------------------
# Loading


def _why_a_path(name: str) -> str | None:
    """Why a name that is no existing file or folder still reads as a local path, not a hub id (None: it does not)."""
    start = next((p for p in ("../", "..\\", "./", ".\\", "~", "/", "\\", ".") if name.startswith(p)), None)
    if start:  # no hub id starts so
        return f"it starts with {start!r}"
    if os.path.isabs(name):
        return "it is an absolute path"
    parts = Path(name).parts
    if len(parts) > 2:
        return "a hub id has at most one '/'"
    if len(parts) == 2 and Path(parts[0]).exists():  # "runs/my-model" under an existing runs/: not saved yet
        return f"{parts[0]}{os.sep} exists here"
    return None


def resolve_model(name: str) -> tuple[str, bool]:
    """Map a model name to (what from_pretrained gets, whether it is a hub id).

    An existing folder is local. "org/name" is both a relative path and a hub id: it goes to the hub unless it
    exists, or reads as a path (starts with ./ ../ / or ~, has more folders, or its first folder exists).
    """
    if name in COURSE_MODELS:
        try:
            return str(data_path(*COURSE_MODELS[name])), False
        except FileNotFoundError as exc:
            raise ModelUnavailableError(
                f"the course model {name!r} is not in data/{'/'.join(COURSE_MODELS[name])}. It ships with the "
                f"course; if it is missing, train it with `python -m ftrag.pretrain` (about 2 hours on 2 CPU cores)."
            ) from exc
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"{str(path)!r} is a folder but holds no config.json, so it is not a saved model")
        return str(path.resolve()), False
    if path.exists():
        raise ValueError(f"{name!r} is a file; a saved model is the folder holding its config.json: pass that folder")
    why = _why_a_path(name)
    if why:
        raise ModelNotFoundError(
            f"no model folder at {name} ({os.path.abspath(path)}); it is read as a local path because {why}. "
            f"Check the path (a relative one starts from {Path.cwd()}), save a model there with save_pretrained(), "
            f"or load one that works offline: {' or '.join(map(repr, COURSE_MODELS))}."
        )
    close = difflib.get_close_matches(name, COURSE_MODELS, n=1, cutoff=0.8)
    if close:  # "course_lm" would otherwise go to the hub and come back as a confusing "not found there"
        raise ValueError(f"unknown model {name!r}; did you mean {close[0]!r}?")
    if _HUB_ID.match(name):
        return name, True
    raise ValueError(
        f"unknown model {name!r}; choose one of: {', '.join(COURSE_MODELS)}, a local folder saved with "
        f"save_pretrained(), or a Hugging Face Hub id such as 'HuggingFaceTB/SmolLM2-135M'"
    )


def _hub_offline() -> str | None:
    """Why the hub cannot be used right now (offline mode, no network), or None if it answers."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return "HF_HUB_OFFLINE is set"
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:  # one quick connection instead of huggingface_hub's retries with back-off (a minute or two offline)
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as exc:
        return f"no network: {host} did not answer ({type(exc).__name__})"
    return None


def _hub_error(name: str, why: str) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"could not load {name!r} from the Hugging Face Hub ({why}), and it is not in the local cache. "
        f"Offline, use the course's own model: load_model({DEFAULT_MODEL!r}), or set {MODEL_ENV}={DEFAULT_MODEL} "
        f"(or unset {MODEL_ENV})."
    )


def _not_cached(exc: BaseException) -> bool:
    """Whether a ``local_files_only`` load failed only because files are missing from the Hugging Face cache."""
    from huggingface_hub.errors import EntryNotFoundError  # its LocalEntryNotFoundError: "not in the disk cache"

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:  # transformers re-raises it as an OSError, chained
        if isinstance(cause, EntryNotFoundError):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    # Part of the repo cached (an interrupted download): transformers raises a bare OSError naming the missing file.
    return type(exc) is OSError and "does not appear to have a file named" in str(exc)


def _from_pretrained(name: str, source: str, is_hub: bool, kwargs: dict):
    """Tokenizer and model; for a hub id, the local cache first, then the hub (with a clear error if offline)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def load(**extra):
        return AutoTokenizer.from_pretrained(source, **extra), AutoModelForCausalLM.from_pretrained(
            source, **kwargs, **extra)

    if not is_hub:
        return load()
    try:
        return load(local_files_only=True)  # cached: no network needed
    except Exception as exc:  # not cached, or cached incompletely: try the hub below
        if not _not_cached(exc):  # the cached copy is there but does not load: a real error, shown as it is
            if hasattr(exc, "add_note"):  # Python 3.11+
                exc.add_note(f"(while loading {name!r} from the local Hugging Face cache; if that copy is broken or "
                             f"incomplete, delete it with `hf cache rm model/{source}` and load it again online)")
            raise
    why = _hub_offline()
    if why:
        raise _hub_error(name, why)
    try:
        return load()
    except Exception as exc:  # the hub raises many kinds (HTTP, repository not found, gated): one clear message
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise _hub_error(name, f"the hub answered but loading failed, so check the id: {type(exc).__name__}: "
                               f"{first_line}") from exc


def load_model(name: str | None = None, *, device: str | None = None, dtype: torch.dtype | None = None,
               load_in_4bit: bool = False):
    """Load ``(model, tokenizer)``: ``course-lm`` (default, or ``$FTRAG_MODEL``), a local folder or a hub id."""
    name = name or os.environ.get(MODEL_ENV, "").strip() or DEFAULT_MODEL
    source, is_hub = resolve_model(name)
    device = get_device(device)
    kwargs: dict = {"dtype": dtype or torch.float32}
    if load_in_4bit:
        try:
            import bitsandbytes  # noqa: F401  (fail here, with a hint, rather than deep inside transformers)
            from transformers import BitsAndBytesConfig
        except ImportError as exc:
            raise ModelUnavailableError(
                "load_in_4bit=True needs bitsandbytes: `python -m pip install bitsandbytes`, "
                "or load the model without 4-bit quantization"
            ) from exc
        # The weights are stored as 4-bit NF4 either way; compute in bf16 on a GPU that has it, in fp32 on a CPU
        # (many CPUs emulate bf16: on an AVX2-only one a bf16 matmul is ~100x slower than fp32).
        compute = torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute)
        kwargs["device_map"] = {"": device}
        kwargs["dtype"] = dtype or compute  # dtype of the layers left unquantized (norms, embeddings)
    tokenizer, model = _from_pretrained(name, source, is_hub, kwargs)
    if not load_in_4bit:
        model.to(device)
    elif device == "cpu":
        _plain_cpu_4bit_inference(model)
    if tokenizer.pad_token is None:  # many hub tokenizers have no pad token; EOS is the usual stand-in
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # generation appends on the right, so prompts must end at the same column
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer


def _plain_cpu_4bit_inference(model) -> None:
    """Keep bitsandbytes' CPU 4-bit layers on one path, the same arithmetic on every CPU and in training.

    On a CPU with AVX-512 bf16, bitsandbytes 0.50 repacks a 4-bit layer on its first forward pass without gradients
    and from then on multiplies in bf16 with bf16 scales (a fused kernel); other CPUs, and training on any CPU,
    dequantize the weights and multiply in fp32. The general path everywhere keeps evaluation equal to what
    training computed. (The repack would also fail on the course model's 688-wide MLP: "N must be divisible by
    block_n".)
    """
    _portable_cpu_dequantize()
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def _flat_dequantize_4bit(A, absmax, blocksize, quant_type, shape, dtype):
    from bitsandbytes.backends.default.ops import _dequantize_4bit_compute
    from bitsandbytes.backends.utils import _get_4bit_code

    if A.dtype != torch.uint8:
        A = A.view(torch.uint8)
    return _dequantize_4bit_compute(A.reshape(-1), absmax, _get_4bit_code(quant_type, A.device), blocksize, shape,
                                    dtype)


@functools.cache  # once per process
def _portable_cpu_dequantize() -> None:
    """Dequantize 4-bit weights on the CPU with bitsandbytes' PyTorch code, the same on every CPU.

    bitsandbytes 0.50 quantizes on the CPU in blocks of 64 consecutive weights of the flattened matrix, and its C++
    CPU kernel dequantizes them back: its scalar branch (AVX2 and other CPUs) in the same flat blocks, its AVX-512
    branch in blocks counted along each row. The two agree only when a row's length is a multiple of 64; the course
    model's MLP down-projection has 688 inputs, and on an AVX-512 CPU its dequantized weights were off by 37% (the
    NF4 rounding itself is 9%): a model trained there and scored elsewhere gave field EM 0.996 here and 0.931 on
    an AVX2 CPU. bitsandbytes' own PyTorch implementation (the one it falls back to for odd shapes) reads the flat
    blocks, like the quantizer, for every matrix: one implementation, the same on every CPU by construction. It
    costs about 0.2 ms more per layer and call than the C++ kernel.
    """
    import warnings

    with warnings.catch_warnings():  # torch says that a kernel is replaced: that is the point
        warnings.filterwarnings("ignore", message="Warning only once for all operators")
        torch.library.register_kernel("bitsandbytes::dequantize_4bit", "cpu", _flat_dequantize_4bit)


def device_of(model) -> torch.device:
    """The device a model's (first) parameters are on."""
    return next(model.parameters()).device


def _context_of(model) -> int | None:
    """How many positions the model has (its config's max_position_embeddings or n_positions); None if unsaid."""
    config = getattr(model, "config", None)
    for key in ("max_position_embeddings", "n_positions"):
        n = getattr(config, key, None)
        if isinstance(n, int) and n > 0:
            return n
    return None


# ----------------------------------------------------------------------------------------------------------
# The prompt format (fixed: the course model was pretrained on exactly this)


def format_prompt(question: str, passages: Sequence[str] = ()) -> str:
    """One ``Passage:`` line per passage, then ``Question:`` and ``Answer:``; the model continues with " <answer>"."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty string, got {question!r}")
    if isinstance(passages, str):  # a bare string would be read as one passage per character
        raise ValueError("passages must be a list of strings, not one string; wrap it: [passage]")
    lines = []
    for i, passage in enumerate(passages):
        if not isinstance(passage, str) or not passage.strip():
            raise ValueError(f"passage {i} must be a non-empty string, got {passage!r}")
        # A newline inside a passage would look like the start of a new field to the model.
        lines.append("Passage: " + " ".join(passage.split()))
    lines.append("Question: " + " ".join(question.split()))
    lines.append("Answer:")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# Generation


def with_distractors(row: dict, n: int) -> list[str]:
    """An RC row's gold passage and its first ``n`` distractors, in the row's own order (for ``format_prompt``)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    others = [i for i in range(len(row["passages"])) if i != row["gold"]][:n]
    return [row["passages"][i] for i in sorted([*others, row["gold"]])]


def _newline_token_ids(tokenizer) -> list[int]:
    """Ids of every token whose text contains a newline (a byte-level BPE may merge "\\n" with other bytes)."""
    cache = getattr(tokenizer, "_ftrag_newline_ids", None)
    if cache is None:
        pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        cache = [i for i, piece in enumerate(pieces) if "\n" in piece]
        tokenizer._ftrag_newline_ids = cache
    return cache


@torch.no_grad()
def generate(model, tokenizer, prompts: Sequence[str], *, max_new_tokens: int = 16, do_sample: bool = False,
             temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
             stop_at_newline: bool = True, batch_size: int = 32) -> list[str]:
    """Continue each prompt (greedy by default) and return the new text, cut at end-of-text and newline."""
    if isinstance(prompts, str):
        raise ValueError("prompts must be a list of strings; for one prompt pass [prompt]")
    if max_new_tokens < 1 or batch_size < 1:
        raise ValueError(f"max_new_tokens and batch_size must be >= 1, got {max_new_tokens} and {batch_size}")
    if do_sample and temperature <= 0:
        raise ValueError(f"temperature must be > 0 when sampling, got {temperature} (use do_sample=False for greedy)")
    prompts = list(prompts)
    if not prompts:
        return []
    context = _context_of(model)
    if context:  # past its positions a model fails (learned positions) or silently writes nonsense (RoPE)
        lengths = [len(ids) for ids in tokenizer(prompts, verbose=False)["input_ids"]]
        i = max(range(len(prompts)), key=lengths.__getitem__)
        if lengths[i] + max_new_tokens > context:
            raise ValueError(
                f"prompt {i} has {lengths[i]} tokens, and with max_new_tokens={max_new_tokens} that makes "
                f"{lengths[i] + max_new_tokens}, more than the model's context of {context} tokens: shorten the "
                f"prompt (fewer or shorter passages) or ask for fewer new tokens "
                f"(at most {max(context - lengths[i], 0)} with this prompt)")
    eos = tokenizer.eos_token_id
    stop_ids = [i for i in [eos] if i is not None] + (_newline_token_ids(tokenizer) if stop_at_newline else [])
    # Say every sampling knob explicitly, so a hub model's own generation_config (often sampling) cannot leak in.
    # (top_k=0 and top_p=1.0 switch those filters off; None would fall back to the library's top_k=50.)
    sampling = dict(do_sample=True, temperature=temperature, top_k=top_k or 0, top_p=top_p or 1.0) if do_sample \
        else dict(do_sample=False, temperature=None, top_k=None, top_p=None)
    old_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    device = device_of(model)
    # Longest prompts first, so a batch holds prompts of similar length and little padding.
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    outputs: list[str] = [""] * len(prompts)
    try:
        # With a seed, a private RNG stream: the same text every time, and the global RNG is left alone.
        # Without one, sampling draws from (and advances) the global RNG, as torch.manual_seed(...) set it.
        if seed is None:
            rng = contextlib.nullcontext()
        elif device.type == "cpu":
            rng = torch.random.fork_rng(devices=[])
        else:
            rng = torch.random.fork_rng(devices=[device.index or 0], device_type=device.type)
        with rng:
            if seed is not None:
                torch.manual_seed(seed)
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                enc = tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True).to(device)
                out = model.generate(**enc, max_new_tokens=max_new_tokens, eos_token_id=stop_ids or None,
                                     pad_token_id=tokenizer.pad_token_id, **sampling)
                new = out[:, enc["input_ids"].shape[1]:]  # (B, <= max_new_tokens)
                for i, row in zip(idx, new.tolist(), strict=True):
                    if eos is not None and eos in row:
                        row = row[:row.index(eos)]
                    text = tokenizer.decode(row, skip_special_tokens=True)
                    if stop_at_newline:
                        text = text.split("\n", 1)[0]
                    outputs[i] = text.strip()
    finally:
        tokenizer.padding_side = old_side
    return outputs


def answer_questions(model, tokenizer, questions: Sequence[str], passages_list: Sequence[Sequence[str]] | None = None,
                     **kw) -> list[str]:
    """Answer each question (with its passages, if given) in the course's prompt format."""
    if isinstance(questions, str):
        raise ValueError("questions must be a list of strings; for one question pass [question]")
    if passages_list is None:
        passages_list = [()] * len(questions)
    if len(passages_list) != len(questions):
        raise ValueError(f"got {len(questions)} questions but {len(passages_list)} passage lists; "
                         "pass one list per question")
    prompts = [format_prompt(q, p) for q, p in zip(questions, passages_list, strict=True)]
    return generate(model, tokenizer, prompts, **kw)


# ----------------------------------------------------------------------------------------------------------
# Exact match

_ARTICLE = re.compile(r"^(a|an|the)\s+")
_TRAILING_PUNCT = string.punctuation.replace(")", "").replace("]", "").replace("}", "")  # keep closing brackets


def normalize_answer(s: str) -> str:
    """Lowercase, collapse spaces, drop trailing punctuation and a leading article (a/an/the)."""
    s = " ".join(str(s).lower().split())
    s = s.rstrip(_TRAILING_PUNCT + " ")
    return _ARTICLE.sub("", s).strip()


def exact_match(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Share of predictions equal to their reference after normalize_answer (a reference may list several)."""
    if isinstance(predictions, str) or isinstance(references, str):
        raise ValueError("predictions and references must be lists of strings, not one string")
    if len(predictions) != len(references):
        raise ValueError(f"got {len(predictions)} predictions but {len(references)} references; they must pair up")
    if not predictions:
        raise ValueError("exact_match needs at least one prediction")
    hits = 0
    for pred, ref in zip(predictions, references, strict=True):
        refs = [ref] if isinstance(ref, str) else list(ref)
        hits += normalize_answer(pred) in {normalize_answer(r) for r in refs}
    return hits / len(predictions)


# ----------------------------------------------------------------------------------------------------------
# Perplexity


def encode_for_lm(tokenizer, text: str, *, add_eos: bool = True, max_length: int | None = None) -> list[int]:
    """Token ids of one text as the model was trained on it: the tokenizer's BOS (if any), the text, then EOS."""
    ids = tokenizer(text)["input_ids"]
    if add_eos and tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids = ids + [tokenizer.eos_token_id]
    return ids[:max_length] if max_length else ids


@torch.no_grad()
def _nll_rows(model, rows: list[list[int]], pad_id: int) -> list[torch.Tensor]:
    """Per-token negative log-likelihood (nats) of each row, token 1.. predicted from its prefix."""
    device = device_of(model)
    width = max(len(r) for r in rows)
    # Right padding: a causal model never looks right, so the real tokens' positions and losses are unchanged.
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()  # (B, T, V)
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:].to(device), reduction="none")  # (B, T-1)
    return [nll[i, :len(r) - 1].cpu() for i, r in enumerate(rows)]


def perplexity(model, tokenizer, texts: Sequence[str], *, batch_size: int = 8, max_length: int = 512) -> float:
    """Token-weighted perplexity exp(mean NLL) over all texts, each text on its own row (BOS + text + EOS)."""
    if isinstance(texts, str):
        texts = [texts]
    rows = [encode_for_lm(tokenizer, t, max_length=max_length) for t in texts]
    rows = [r for r in rows if len(r) >= 2]  # a row of one token predicts nothing
    if not rows:
        raise ValueError("perplexity needs at least one non-empty text")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return _rows_perplexity(model, rows, [1] * len(rows), pad_id, batch_size)


def rows_nll(model, rows: list[list[int]], starts: list[int], pad_id: int, batch_size: int) -> list[float]:
    """Summed NLL (nats) of the tokens ``rows[i][starts[i]:]``, each predicted from everything before it."""
    sums = [0.0] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # similar lengths share a batch: less padding
    for first in range(0, len(order), batch_size):
        batch = order[first:first + batch_size]
        for i, nll in zip(batch, _nll_rows(model, [rows[i] for i in batch], pad_id), strict=True):
            sums[i] = nll[starts[i] - 1:].double().sum().item()  # nll[j] is the loss of token j + 1
    return sums


def _rows_perplexity(model, rows: list[list[int]], starts: list[int], pad_id: int, batch_size: int) -> float:
    """exp(mean NLL) of the tokens ``rows[i][starts[i]:]``, each predicted from everything before it."""
    total = sum(rows_nll(model, rows, starts, pad_id, batch_size))
    return math.exp(total / sum(len(r) - s for r, s in zip(rows, starts, strict=True)))


def context_perplexity(model, tokenizer, texts: Sequence[str], contexts: Sequence[str] | None = None, *,
                       batch_size: int = 8, max_length: int | None = None) -> float:
    """Perplexity of each text's own tokens (and its EOS) with ``contexts[i]`` before it; context is not scored.

    A row is BOS, the context's tokens, then the text's tokens (encoded on their own, exactly as when the text
    stands alone, so the same tokens are scored with and without context). A context that would not leave the
    text room within ``max_length`` (default: the model's context length) loses its oldest tokens first.
    """
    if isinstance(texts, str) or isinstance(contexts, str):
        raise ValueError("texts and contexts must be lists of strings, one context per text")
    texts = list(texts)
    contexts = [""] * len(texts) if contexts is None else list(contexts)
    if len(contexts) != len(texts):
        raise ValueError(f"got {len(contexts)} contexts for {len(texts)} texts; give one context per text "
                         "('' for none)")
    if not texts:
        raise ValueError("context_perplexity needs at least one text")
    limit = max_length or getattr(model.config, "max_position_embeddings", None) or 512
    bos = tokenizer("")["input_ids"]  # the BOS the tokenizer adds (the course model's <|endoftext|>), or nothing
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    rows, starts = [], []
    for text, context in zip(texts, contexts, strict=True):
        body = tokenizer(text, add_special_tokens=False)["input_ids"] + eos
        if len(bos) + len(body) > limit:
            raise ValueError(f"a text of {len(body)} tokens does not fit the context of {limit} tokens")
        # verbose=False: a long context is expected here (it is cut below), so no "longer than 512" warning
        ctx = tokenizer(context, add_special_tokens=False, verbose=False)["input_ids"] if context else []
        ctx = ctx[max(0, len(bos) + len(ctx) + len(body) - limit):]  # drop the oldest context tokens
        rows.append(bos + ctx + body)
        starts.append(len(bos) + len(ctx))  # index of the text's first token
    if min(starts) < 1:
        raise ValueError("this tokenizer adds no BOS: give every text a non-empty context to predict it from")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or [0])[0]
    return _rows_perplexity(model, rows, starts, pad_id, batch_size)


def token_losses(model, tokenizer, text: str) -> tuple[list[str], list[float]]:
    """Each token of ``text`` (as a string) and its loss in nats given everything before it (for loss plots)."""
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty string")
    ids = encode_for_lm(tokenizer, text, add_eos=False)
    if len(ids) < 2:  # no BOS in this tokenizer and a one-token text: nothing to predict from
        raise ValueError(f"{text!r} is a single token and this tokenizer adds no BOS; give a longer text")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    nll = _nll_rows(model, [ids], pad_id)[0]
    tokens = [tokenizer.decode([i]) for i in ids[1:]]
    return tokens, nll.tolist()


def rc_em(model, tok, rows: list[dict], n: int) -> tuple[float, int]:
    """Reading-comprehension EM on the rows that have at least ``n`` distractors (and how many rows)."""
    rows = [r for r in rows if len(r["passages"]) - 1 >= n]
    preds = answer_questions(model, tok, [r["question"] for r in rows], [with_distractors(r, n) for r in rows],
                             max_new_tokens=16)
    return exact_match(preds, [r["answer"] for r in rows]), len(rows)


def world_a_scores(model, tokenizer, *, n_heldout: int = 100, n_rc: int = 100) -> dict:
    """What a model still knows of World A (the forgetting check after fine-tuning).

    ``world_a_ppl``: perplexity on the first ``n_heldout`` held-out World A texts; ``rc_em``: reading-comprehension
    exact match on the first ``n_rc`` rows of ``rc_test.jsonl`` (gold passage alone, greedy answer).
    """
    from ftrag.files import read_examples, read_jsonl

    rc = read_jsonl("world_a", "rc_test.jsonl")[:n_rc]
    answers = answer_questions(model, tokenizer, [r["question"] for r in rc], [with_distractors(r, 0) for r in rc],
                               max_new_tokens=16)
    return {"world_a_ppl": perplexity(model, tokenizer, read_examples("world_a", "heldout.txt")[:n_heldout]),
            "rc_em": exact_match(answers, [r["answer"] for r in rc])}

