"""Training: the visible loop (``loop``), LoRA and QLoRA adapters (``lora``), counting what is trained (``params``)."""

from ftrag.train.loop import (
    IGNORE_INDEX,
    TrainConfig,
    TrainResult,
    check_gradients_reach,
    checkpointing,
    collate,
    lm_examples,
    lr_at,
    train,
)
from ftrag.train.lora import (
    UNSEEN_CHARS,
    load_adapter,
    lora_model,
    merge_and_save,
    qlora_model,
    save_adapter,
    tokens_to_train,
    unseen_token_ids,
    untrained_token_ids,
)
from ftrag.train.params import (
    LLAMA_LINEAR,
    adapter_parameters,
    count_parameters,
    folder_bytes,
    lora_parameter_count,
    weight_bytes,
)
from ftrag.train.select import keep_if_best, restore, train_selected

__all__ = [
    "IGNORE_INDEX",
    "LLAMA_LINEAR",
    "TrainConfig",
    "TrainResult",
    "UNSEEN_CHARS",
    "adapter_parameters",
    "check_gradients_reach",
    "checkpointing",
    "collate",
    "count_parameters",
    "folder_bytes",
    "lm_examples",
    "load_adapter",
    "lora_model",
    "lora_parameter_count",
    "lr_at",
    "keep_if_best",
    "restore",
    "train_selected",
    "merge_and_save",
    "qlora_model",
    "save_adapter",
    "tokens_to_train",
    "train",
    "unseen_token_ids",
    "untrained_token_ids",
    "weight_bytes",
]
