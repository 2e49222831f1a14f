"""What to train: LoRA and QLoRA adapters (peft, bitsandbytes), the token rows a new format needs, saving and loading.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from ftrag.env import get_device
from ftrag.lm import load_model
from ftrag.paths import data_path
from ftrag.train.loop import IGNORE_INDEX
from ftrag.train.params import LLAMA_LINEAR, folder_bytes

UNSEEN_CHARS = '{}[]"'  # never in the course model's pretraining corpus (lesson 00 counted them)


# ----------------------------------------------------------------------------------------------------------
# LoRA and QLoRA


def unseen_token_ids(tokenizer, chars: str = UNSEEN_CHARS) -> list[int]:
    """Ids of the vocabulary tokens that contain any of ``chars`` (for the course model: the 5 single bytes)."""
    pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    return [i for i, piece in enumerate(pieces) if any(c in piece for c in chars)]


def untrained_token_ids(model, tokenizer, probe: str = "{", threshold: float = 0.9,
                        min_cluster: int = 10) -> list[int]:
    """Tokens whose embedding row is (nearly) the row of ``probe``, a token the corpus never held.

    A row that is never a target is only ever pushed down, by the same gradient for every such token (softmax
    pushes all unseen tokens away from the average hidden state), so the rows of all untrained tokens end up
    pointing the same way. A model that has seen ``probe`` (any web-trained model has seen ``{``) has no such
    cluster around it: fewer than ``min_cluster`` similar rows, and then the answer is an empty list.
    """
    ids = tokenizer(probe, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        raise ValueError(f"probe {probe!r} is {len(ids)} tokens; pass a string that is a single token")
    rows = model.get_input_embeddings().weight.detach().float()
    cos = torch.nn.functional.cosine_similarity(rows, rows[ids[0]][None], dim=1)
    similar = sorted(set((cos > threshold).nonzero().flatten().tolist()) | set(ids))
    return similar if len(similar) >= min_cluster else []


def tokens_to_train(model, tokenizer, examples: Sequence[dict]) -> list[int]:
    """Ids that occur in the answers (labels) of ``examples`` and have an untrained row (none for a hub model)."""
    used = {t for e in examples for t in e["labels"] if t != IGNORE_INDEX}
    return sorted(used & set(untrained_token_ids(model, tokenizer)))


def _reinit_token_rows(peft_model, token_ids: Sequence[int], seed: int) -> None:
    """Start the trainable rows at the mean trained row plus noise: likely-ish as outputs, distinct as inputs."""
    layer = peft_model.get_input_embeddings()
    adapter = getattr(layer, "token_adapter", None)
    if adapter is None:
        raise ValueError("the model has no trainable token rows to initialise; pass token_ids to lora_model")
    weight = adapter.base_layer.weight.detach()
    keep = torch.ones(weight.shape[0], dtype=torch.bool)
    keep[list(token_ids)] = False
    trained = weight[keep].float()
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(len(token_ids), weight.shape[1], generator=gen) * trained.std(0)
    delta = adapter.trainable_tokens_delta[peft_model.active_adapter]
    delta.data.copy_((trained.mean(0) + noise).to(delta))


def lora_model(model, r: int = 8, alpha: float | None = None, *, target_modules: Sequence[str] | str = LLAMA_LINEAR,
               token_ids: Sequence[int] = (), reinit_tokens: bool = False, adapt_embeddings: bool = False,
               dropout: float = 0.0, seed: int = 0):
    """Wrap ``model`` with LoRA adapters of rank ``r`` (base weights frozen) and return the peft model.

    ``alpha`` defaults to ``2 * r`` (the update is scaled by ``alpha / r``). ``token_ids`` makes those rows of the
    input embedding trainable (and of the output matrix, when tied): a model can only emit a token it was never
    trained to predict if that token's output row can move. ``reinit_tokens`` restarts those rows from the mean
    trained row plus noise (see ``untrained_token_ids`` for why the old rows are a bad start).

    ``adapt_embeddings`` also puts a LoRA on the input embedding (every row, low rank, instead of chosen rows in
    full). A model that ties its output matrix to it (SmolLM2, the course model) then gets the same adapter,
    transposed, on the output matrix (peft's ``ensure_weight_tying``), so the two stay one matrix in training, in
    the saved adapter and, through ``merge_and_save``, in the merged model.
    """
    from peft import LoraConfig, get_peft_model  # deferred: importing peft loads bitsandbytes, which prints a notice

    if not isinstance(r, int) or r < 1:
        raise ValueError(f"r must be a positive integer, got {r!r}")
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if not isinstance(target_modules, str):
        missing = [m for m in target_modules if m not in names]
        if missing:
            raise ValueError(f"target_modules {missing} are not in this model; its linear layers are named "
                             f"{sorted(n for n in names if n.endswith('proj') or n == 'lm_head')}")
        target_modules = list(target_modules)
    if adapt_embeddings:
        if isinstance(target_modules, str) or token_ids:
            raise ValueError("adapt_embeddings needs target_modules as a list of names, and no token_ids (both "
                             "would adapt the embedding: choose rows in full, or every row at low rank)")
        target_modules = [*target_modules, "embed_tokens"]
    config = LoraConfig(r=r, lora_alpha=alpha if alpha is not None else 2 * r, lora_dropout=dropout,
                        target_modules=target_modules, trainable_token_indices=list(token_ids) or None,
                        ensure_weight_tying=adapt_embeddings, task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    if reinit_tokens and token_ids:
        _reinit_token_rows(peft_model, list(token_ids), seed)
    return peft_model


def qlora_model(name: str | None = None, r: int = 8, alpha: float | None = None, *, device: str | None = None,
                target_modules: Sequence[str] | str = LLAMA_LINEAR, token_ids: Sequence[int] = (),
                reinit_tokens: bool = False, gradient_checkpointing: bool = True, seed: int = 0):
    """Load ``name`` with 4-bit NF4 base weights (bitsandbytes), prepare it for training, add LoRA: ``(model, tok)``.

    bitsandbytes 0.50 runs 4-bit layers on CUDA and on the CPU (slower there: the weights are dequantized for
    every matmul); Apple's MPS is not supported.
    """
    from peft import (
        prepare_model_for_kbit_training,  # deferred: importing peft loads bitsandbytes, which prints a notice
    )


    device = get_device(device)
    if device.startswith("mps"):
        raise ValueError("bitsandbytes has no 4-bit kernels for Apple's MPS: use device='cpu' for QLoRA, or LoRA "
                         "on the full-precision model (lora_model) on MPS")
    model, tokenizer = load_model(name, device=device, load_in_4bit=True)
    # Freezes the base, upcasts norms to fp32 and, for the reentrant checkpointing kind, makes the embeddings'
    # output require grad; without that, no gradient would reach the adapters inside checkpointed layers.
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing,
                                            gradient_checkpointing_kwargs={"use_reentrant": False})
    peft_model = lora_model(model, r, alpha, target_modules=target_modules, token_ids=token_ids,
                            reinit_tokens=reinit_tokens, seed=seed)
    return peft_model, tokenizer


def save_adapter(peft_model, folder: str | Path) -> int:
    """Save only the adapter (LoRA matrices and trained token rows); returns its size in bytes."""
    peft_model.save_pretrained(folder)
    return folder_bytes(folder)


def load_adapter(model, name: str | Path):
    """Attach a saved adapter to ``model`` (in eval mode): a folder, or the name of one in ``data/models``.

    Returns ``(peft_model, record)``: ``record`` is the adapter's ``training.json`` (the command that trained it,
    its configuration, time and scores), or ``{}`` when it has none.
    """
    from peft import PeftModel  # deferred: importing peft loads bitsandbytes, which prints a notice



    folder = Path(name)
    if not folder.is_dir():
        folder = data_path("models", str(name))
    if not (folder / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{folder} holds no adapter (adapter_config.json); train one with "
                                "`python -m ftrag.course.adapters --method lora --out FOLDER` or pass the folder it "
                                "is in")
    record_path = folder / "training.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    return PeftModel.from_pretrained(model, folder).eval(), record


def _untie_adapted_output(peft_model) -> bool:
    """Tied embeddings that both carry a LoRA share one base matrix, and merging each adapter into it would add the
    update twice: give the output layer its own copy first (``merge_and_save`` ties them again after)."""
    inner = peft_model.get_base_model()
    out, inp = inner.get_output_embeddings(), inner.get_input_embeddings()
    if not (hasattr(out, "lora_A") and hasattr(inp, "lora_embedding_A")):
        return False
    if out.base_layer.weight.data_ptr() != inp.base_layer.weight.data_ptr():
        return False
    out.base_layer.weight = torch.nn.Parameter(out.base_layer.weight.detach().clone(), requires_grad=False)
    return True


def merge_and_save(peft_model, folder: str | Path | None = None):
    """Fold the adapter into the base weights (``W + (alpha/r) B A``) and return a plain transformers model.

    The peft wrapper is consumed (its base model is changed in place); save the adapter first if you need it.
    Merging into 4-bit weights would round the update away: load the base in full precision to merge a QLoRA adapter.
    """
    if any(p.__class__.__name__ == "Params4bit" for p in peft_model.parameters()):
        raise ValueError("this adapter sits on 4-bit weights; merging would lose it to rounding. Load the base "
                         "model in full precision, attach the adapter with PeftModel.from_pretrained, then merge")
    untied = _untie_adapted_output(peft_model)
    merged = peft_model.merge_and_unload()
    if untied:  # both copies took their (equal) update once: make them one matrix again
        out, inp = merged.get_output_embeddings(), merged.get_input_embeddings()
        if not torch.allclose(out.weight, inp.weight.to(out.weight.dtype), atol=1e-6):
            raise RuntimeError("the tied input and output embeddings differ after merging their adapters")
        out.weight = inp.weight
        merged.config.tie_word_embeddings = True  # peft set it False; saved so, the output matrix would be lost
    if folder is not None:
        merged.save_pretrained(folder)
    return merged
