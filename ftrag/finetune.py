"""Supervised fine-tuning, small and visible: one loop for LoRA, QLoRA and full fine-tuning (lesson 02 onwards).

The loop is plain PyTorch (AdamW, warm-up then linear decay, gradient clipping, a progress bar) so a learner can read
every step; peft supplies the adapters and bitsandbytes the 4-bit base weights.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ftrag.jsontask import IGNORE_INDEX

# The linear layers of a Llama block (the course model, SmolLM2, Qwen2.5 all name them so).
LLAMA_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
UNSEEN_CHARS = '{}[]"'  # never in the course model's pretraining corpus (lesson 00 counted them)


# ----------------------------------------------------------------------------------------------------------
# Parameters and memory


def _numel(param: torch.nn.Parameter) -> int:
    # bitsandbytes packs two 4-bit weights per byte (Params4bit of dtype uint8): count the weights, not the bytes.
    if param.__class__.__name__ == "Params4bit":
        return param.numel() * param.element_size() * 2
    return param.numel()


def count_parameters(model) -> tuple[int, int]:
    """``(trainable, total)`` parameters; a 4-bit weight counts as one parameter, shared (tied) ones once."""
    seen, trainable, total = set(), 0, 0
    for param in model.parameters():  # parameters() yields a tied tensor once
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += _numel(param)
        trainable += _numel(param) if param.requires_grad else 0
    return trainable, total


def adapter_parameters(peft_model) -> int:
    """Parameters of a peft adapter (LoRA matrices, trainable token rows), also when it is loaded for inference.

    A loaded adapter has no parameter marked trainable, so ``count_parameters`` would report 0 for it.
    """
    # named_parameters() yields a shared (tied) tensor once
    count = sum(p.numel() for n, p in peft_model.named_parameters() if "lora_" in n or "trainable_tokens" in n)
    if not count:
        raise ValueError("this model has no LoRA adapter: wrap it with lora_model(...) or load one with load_adapter")
    return count


def weight_bytes(model, *, linear_only: bool = False) -> int:
    """Bytes the weights occupy (parameters and buffers, 4-bit quantization constants included).

    ``linear_only`` counts the linear layers inside the transformer blocks: what 4-bit quantization shrinks.
    """
    if not linear_only:
        return model.get_memory_footprint()
    total = 0
    for name, module in model.named_modules():
        # bitsandbytes' Linear4bit is an nn.Linear; the LoRA matrices (lora_A, lora_B) are not base weights
        if ".layers." in f".{name}" and isinstance(module, torch.nn.Linear) and ".lora_" not in name:
            weight = module.weight
            total += weight.numel() * weight.element_size()
            state = getattr(weight, "quant_state", None)  # per-block scales (absmax) of the 4-bit weights
            if state is not None:
                total += state.absmax.numel() * state.absmax.element_size()
    return total


class _PeakMemory:
    """Peak memory while training: CUDA's allocator statistics, or this process's resident memory on a CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        if self.cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            self.start = torch.cuda.memory_allocated(device)
        else:
            import psutil  # polling RSS once a step costs microseconds; tracemalloc would slow training down

            self.process = psutil.Process()
            self.start = self.process.memory_info().rss
        self.peak = self.start
        self.device = device

    def sample(self) -> None:
        if not self.cuda:
            self.peak = max(self.peak, self.process.memory_info().rss)

    def extra_mb(self) -> float:
        """Memory above what was in use when training started (activations, gradients, optimizer state)."""
        if self.cuda:
            self.peak = torch.cuda.max_memory_allocated(self.device)
        return (self.peak - self.start) / 2**20


# ----------------------------------------------------------------------------------------------------------
# The training loop


@dataclass
class TrainConfig:
    """Everything one fine-tuning run depends on (the notebook builds it in a visible cell)."""

    steps: int = 100  # optimizer steps (each sees batch_size examples)
    batch_size: int = 16  # examples per step; the data is reshuffled after each pass
    lr: float = 2e-3  # peak learning rate of AdamW; LoRA wants ~10x the full fine-tuning rate
    warmup_steps: int = 10  # linear warm-up from 0 to lr, then linear decay to 0 at the last step
    weight_decay: float = 0.0  # AdamW's decoupled weight decay (0: adapters are small already)
    max_grad_norm: float = 1.0  # clip the gradient norm: one odd batch cannot throw the weights far
    seed: int = 0  # the order of the examples
    gradient_checkpointing: bool = False  # recompute activations in backward: less memory, ~30% more time
    progress: bool = True  # show a tqdm progress bar (TQDM_DISABLE=1 switches every bar off under tests)

    def __post_init__(self):
        for name in ("steps", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr must be between 0 and 1, got {self.lr}")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"warmup_steps must be >= 0 and below steps ({self.steps}), got {self.warmup_steps}")


@dataclass
class TrainResult:
    """What a run produced and cost."""

    losses: list[float] = field(default_factory=list)  # mean loss over the answer tokens, one per step
    seconds: float = 0.0  # wall time of the loop
    peak_extra_mb: float = 0.0  # memory above the model's own at the start (CUDA: allocated; CPU: resident)
    trainable: int = 0  # parameters updated
    total: int = 0  # all parameters
    tokens: int = 0  # tokens processed (prompt and answer, no padding)
    evals: list[tuple[int, float]] = field(default_factory=list)  # (steps done, eval_fn()) every eval_every steps

    @property
    def trainable_share(self) -> float:
        return self.trainable / self.total

    @property
    def final_loss(self) -> float:
        """Mean loss of the last 10 steps (one step's loss is noisy)."""
        return sum(self.losses[-10:]) / len(self.losses[-10:])

    def summary(self) -> str:
        return (f"{len(self.losses)} steps in {self.seconds:.0f} s, loss {self.losses[0]:.2f} -> "
                f"{self.final_loss:.2f}; {self.trainable:,} trainable parameters "
                f"({100 * self.trainable_share:.2f}% of {self.total:,}); peak memory +{self.peak_extra_mb:.0f} MB")


def collate(examples: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad ``input_ids``/``labels`` to one width; padding is masked out of attention and loss."""
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(e["input_ids"]), torch.tensor(e["labels"]), 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def lm_examples(tokenizer, texts: Sequence[str], block_size: int = 256, *, pack: bool = True) -> list[dict]:
    """Continued-pretraining examples: every token is a target (``labels`` = ``input_ids``).

    ``pack``: the texts, each followed by EOS, are joined into one stream cut into blocks of ``block_size``
    tokens, so no step is spent on padding (a text may span two blocks; EOS tells the model a new one began).
    Without packing each text is its own example (BOS, text, EOS; cut at ``block_size``).
    """
    if isinstance(texts, str) or not texts:
        raise ValueError("texts must be a non-empty list of strings")
    if not isinstance(block_size, int) or block_size < 2:
        raise ValueError(f"block_size must be an integer >= 2, got {block_size!r}")
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no EOS token to separate the texts with")
    if not pack:
        rows = [tokenizer(t)["input_ids"] + [eos] for t in texts]
        return [{"input_ids": r[:block_size], "labels": r[:block_size]} for r in rows if len(r) >= 2]
    stream: list[int] = []
    for text in texts:
        stream += [eos] + tokenizer(text, add_special_tokens=False)["input_ids"]
    stream.append(eos)
    blocks = [stream[i:i + block_size] for i in range(0, len(stream) - 1, block_size)]
    return [{"input_ids": b, "labels": b} for b in blocks if len(b) >= 2]


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up, then linear decay to 0."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    return config.lr * (config.steps - step) / (config.steps - config.warmup_steps)


def train(model, examples: Sequence[dict], config: TrainConfig, *, pad_id: int = 0,
          eval_fn: Callable[[], float] | None = None, eval_every: int = 0) -> TrainResult:
    """Train ``model``'s trainable parameters on SFT examples (``input_ids``, ``labels``); returns the record.

    ``eval_fn`` (e.g. a validation perplexity) is called, in eval mode and without gradients, before the first step
    and every ``eval_every`` steps (and after the last); its values land in ``result.evals``; its time is not
    counted in ``result.seconds``.
    """
    from tqdm.auto import tqdm

    if not examples:
        raise ValueError("train needs at least one example")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameter: wrap it with lora_model(...), or for full "
                         "fine-tuning call model.requires_grad_(True)")
    device = next(model.parameters()).device
    if config.gradient_checkpointing:
        # use_reentrant=False needs no trick; with the old reentrant kind the embeddings' output must require grad,
        # or no gradient reaches the checkpointed layers (see check_gradients_reach).
        checkpointing(model, True)
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_at(s, config) / config.lr)
    trainable, total = count_parameters(model)
    result = TrainResult(trainable=trainable, total=total)
    gen = torch.Generator().manual_seed(config.seed)
    order: list[int] = []
    if eval_fn is not None and (not isinstance(eval_every, int) or eval_every < 1):
        raise ValueError(f"eval_every must be a positive number of steps when eval_fn is given, got {eval_every!r}")
    eval_seconds = 0.0

    def evaluate(done: int) -> None:
        nonlocal eval_seconds
        t0 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            result.evals.append((done, float(eval_fn())))
        model.train()
        eval_seconds += time.perf_counter() - t0

    memory = _PeakMemory(device)
    model.train()
    start = time.perf_counter()
    if eval_fn is not None:
        evaluate(0)
    # Pass `disable` only to switch the bar off: given at all, it would override TQDM_DISABLE=1 (set under tests).
    bar = tqdm(range(config.steps), desc="fine-tuning", **({} if config.progress else {"disable": True}))
    for _step in bar:
        if len(order) < config.batch_size:  # a new pass over the data, in a new order
            order += torch.randperm(len(examples), generator=gen).tolist()
        batch = collate([examples[i] for i in order[:config.batch_size]], pad_id)
        del order[:config.batch_size]
        batch = {k: v.to(device) for k, v in batch.items()}
        loss = model(**batch).loss  # mean cross-entropy over the tokens whose label is not -100
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"the loss became {loss.item()} at step {_step}: lower the learning rate")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        memory.sample()  # activations and gradients are all alive right after backward
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        result.losses.append(loss.item())
        result.tokens += int(batch["attention_mask"].sum())
        bar.set_postfix(loss=f"{loss.item():.3f}")
        done = _step + 1
        if eval_fn is not None and (done % eval_every == 0 or done == config.steps):
            evaluate(done)
    memory.sample()
    result.seconds = time.perf_counter() - start - eval_seconds
    result.peak_extra_mb = memory.extra_mb()
    model.eval()
    if config.gradient_checkpointing:
        checkpointing(model, False)
    return result


def checkpointing(model, on: bool, *, reentrant: bool = False) -> None:
    """Switch gradient (activation) checkpointing on or off, under its new name or the old one."""
    if not on:
        (getattr(model, "activation_checkpointing_disable", None) or model.gradient_checkpointing_disable)()
    elif hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": reentrant})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": reentrant})


def check_gradients_reach(model, example: dict, pad_id: int = 0) -> tuple[int, int]:
    """One forward/backward on one example: ``(trainable tensors that got a gradient, all of them)``.

    (A gradient, not a non-zero one: at the start LoRA's B is zero, so A's gradient is exactly zero, rightly.)
    """
    batch = {k: v.to(next(model.parameters()).device) for k, v in collate([example], pad_id).items()}
    model.zero_grad(set_to_none=True)
    model.train()
    loss = model(**batch).loss
    if loss.requires_grad:  # else no trainable parameter is on the loss's path at all: nothing would learn
        loss.backward()
    model.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    reached = sum(p.grad is not None for p in params)
    model.zero_grad(set_to_none=True)
    return reached, len(params)


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
               token_ids: Sequence[int] = (), reinit_tokens: bool = False, dropout: float = 0.0, seed: int = 0):
    """Wrap ``model`` with LoRA adapters of rank ``r`` (base weights frozen) and return the peft model.

    ``alpha`` defaults to ``2 * r`` (the update is scaled by ``alpha / r``). ``token_ids`` makes those rows of the
    input embedding trainable (and of the output matrix, when tied): a model can only emit a token it was never
    trained to predict if that token's output row can move. ``reinit_tokens`` restarts those rows from the mean
    trained row plus noise (see ``untrained_token_ids`` for why the old rows are a bad start).
    """
    from peft import LoraConfig, get_peft_model

    if not isinstance(r, int) or r < 1:
        raise ValueError(f"r must be a positive integer, got {r!r}")
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if not isinstance(target_modules, str):
        missing = [m for m in target_modules if m not in names]
        if missing:
            raise ValueError(f"target_modules {missing} are not in this model; its linear layers are named "
                             f"{sorted(n for n in names if n.endswith('proj') or n == 'lm_head')}")
        target_modules = list(target_modules)
    config = LoraConfig(r=r, lora_alpha=alpha if alpha is not None else 2 * r, lora_dropout=dropout,
                        target_modules=target_modules, trainable_token_indices=list(token_ids) or None,
                        task_type="CAUSAL_LM")
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
    from peft import prepare_model_for_kbit_training

    from ftrag.env import get_device
    from ftrag.model import load_model

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


def lora_parameter_count(model, r: int, target_modules: Sequence[str] = LLAMA_LINEAR) -> int:
    """Parameters LoRA of rank ``r`` adds: ``r * (in + out)`` for each targeted linear layer."""
    total = 0
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in target_modules and hasattr(module, "in_features"):
            total += r * (module.in_features + module.out_features)
    return total


# ----------------------------------------------------------------------------------------------------------
# Saving and merging


def folder_bytes(folder: str | Path) -> int:
    """Total size of the files in a folder."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def save_adapter(peft_model, folder: str | Path) -> int:
    """Save only the adapter (LoRA matrices and trained token rows); returns its size in bytes."""
    peft_model.save_pretrained(folder)
    return folder_bytes(folder)


def load_adapter(model, name: str | Path):
    """Attach a saved adapter to ``model`` (in eval mode): a folder, or the name of one in ``data/models``.

    Returns ``(peft_model, record)``: ``record`` is the adapter's ``training.json`` (the command that trained it,
    its configuration, time and scores), or ``{}`` when it has none.
    """
    import json

    from peft import PeftModel

    from ftrag.paths import data_path

    folder = Path(name)
    if not folder.is_dir():
        folder = data_path("models", str(name))
    if not (folder / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{folder} holds no adapter (adapter_config.json); train one with "
                                "`python -m ftrag.finetune --method lora --out FOLDER` or pass the folder it is in")
    record_path = folder / "training.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    return PeftModel.from_pretrained(model, folder).eval(), record


def merge_and_save(peft_model, folder: str | Path | None = None):
    """Fold the adapter into the base weights (``W + (alpha/r) B A``) and return a plain transformers model.

    The peft wrapper is consumed (its base model is changed in place); save the adapter first if you need it.
    Merging into 4-bit weights would round the update away: load the base in full precision to merge a QLoRA adapter.
    """
    if any(p.__class__.__name__ == "Params4bit" for p in peft_model.parameters()):
        raise ValueError("this adapter sits on 4-bit weights; merging would lose it to rounding. Load the base "
                         "model in full precision, attach the adapter with PeftModel.from_pretrained, then merge")
    merged = peft_model.merge_and_unload()
    if folder is not None:
        merged.save_pretrained(folder)
    return merged


# ----------------------------------------------------------------------------------------------------------
# Command line: train an adapter (or a full fine-tune) on lesson 02's JSON task or lesson 03's dialect, save, score


def _task_data(task: str, tokenizer, args) -> tuple[list[dict], Callable]:
    """The training examples of a task and a function ``model -> scores`` on its test split."""
    from ftrag import jsontask as jt
    from ftrag.files import read_examples
    from ftrag.model import perplexity

    if task == "json":
        def score_json(model) -> dict:
            rows = jt.load_split("test")[:args.eval]
            return jt.score(jt.json_outputs(model, tokenizer, [r["text"] for r in rows]),
                            [r["target"] for r in rows])
        return jt.sft_dataset(tokenizer, jt.load_split("train")), score_json
    from ftrag.dialect import closing_em, training_examples

    examples = training_examples(tokenizer, args.steps, args.batch_size, args.block_size)

    def score_dialect(model) -> dict:
        test = read_examples("dialect", "test.txt")[:args.eval]
        em, _ = closing_em(model, tokenizer, test)
        return {"dialect_ppl": perplexity(model, tokenizer, test), "closing_line_em": em,
                "world_a_ppl": perplexity(model, tokenizer, read_examples("world_a", "heldout.txt")[:100])}
    return examples, score_dialect


def main(argv: list[str] | None = None) -> int:
    """``python -m ftrag.finetune --task json --method lora --steps 600 --out FOLDER``: train, save, score."""
    import argparse
    import json

    from ftrag.env import seed_everything
    from ftrag.model import load_model

    parser = argparse.ArgumentParser(description="Fine-tune a model on lesson 02's JSON task (supervised) or on "
                                                 "lesson 03's dialect memos (continued pretraining); save, score.")
    parser.add_argument("--task", choices=("json", "dialect"), default="json", help="what to train on")
    parser.add_argument("--model", default=None, help="course-lm (default), a local folder or a hub id")
    parser.add_argument("--method", choices=("lora", "qlora", "full"), default="lora", help="what to train")
    parser.add_argument("--rank", type=int, default=4, help="LoRA rank r (lora and qlora)")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size, help="examples per step")
    parser.add_argument("--block-size", type=int, default=512,
                        help="dialect: tokens per packed block (a memo is ~155 tokens: keep it longer than that)")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="dialect: closing-line EM on 100 validation memos every N steps (recorded in "
                             "training.json)")
    parser.add_argument("--lr", type=float, default=TrainConfig.lr, help="peak learning rate")
    parser.add_argument("--warmup-steps", type=int, default=TrainConfig.warmup_steps, help="linear warm-up steps")
    parser.add_argument("--seed", type=int, default=0, help="seed of the example order and the token-row noise")
    parser.add_argument("--eval", type=int, default=200, help="test notices or memos to score after training "
                                                              "(0: none)")
    parser.add_argument("--out", default=None, help="folder to save the adapter (lora, qlora) or model (full) in")
    args = parser.parse_args(argv)
    seed_everything(args.seed)
    model, tokenizer = load_model(args.model, device="cpu" if args.method != "qlora" else None)
    examples, score = _task_data(args.task, tokenizer, args)
    token_ids = tokens_to_train(model, tokenizer, examples)
    if args.method == "lora":
        model = lora_model(model, args.rank, token_ids=token_ids, reinit_tokens=True, seed=args.seed)
    elif args.method == "qlora":
        model, tokenizer = qlora_model(args.model, args.rank, token_ids=token_ids, reinit_tokens=True,
                                       seed=args.seed)
    else:
        model.requires_grad_(True)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps,
                         seed=args.seed, gradient_checkpointing=args.method == "qlora")
    eval_fn = None
    if args.eval_every:
        if args.task != "dialect":
            parser.error("--eval-every is for --task dialect")
        from ftrag.dialect import closing_em
        from ftrag.files import read_examples

        valid = read_examples("dialect", "valid.txt")[:100]

        def eval_fn() -> float:
            em, _ = closing_em(model, tokenizer, valid)
            print(f"validation closing-line EM {em:.3f}", flush=True)
            return em
    result = train(model, examples, config, pad_id=tokenizer.pad_token_id, eval_fn=eval_fn,
                   eval_every=args.eval_every)
    print(result.summary(), flush=True)
    scores = None
    if args.eval:
        model.eval()
        scores = {k: round(v, 4) if isinstance(v, float) else v for k, v in score(model).items()}
        print(json.dumps(scores))
    if args.out:
        (save_adapter(model, args.out) if args.method != "full" else model.save_pretrained(args.out))
        # What produced it: a notebook that loads the adapter can show how it was trained and check its scores.
        record = {"command": "python -m ftrag.finetune " + " ".join(argv if argv is not None else sys.argv[1:]),
                  "task": args.task, "method": args.method, "rank": args.rank,
                  "config": {k: v for k, v in vars(config).items() if k != "progress"},
                  "train_seconds": round(result.seconds, 1), "trainable": result.trainable, "total": result.total,
                  "tokens": result.tokens, "first_loss": round(result.losses[0], 4),
                  "last_loss": round(result.final_loss, 4),
                  "threads": torch.get_num_threads(), "scores": scores, "eval_rows": args.eval,
                  **({"valid_closing_em": result.evals} if args.eval_every else {})}
        (Path(args.out) / "training.json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"saved to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
