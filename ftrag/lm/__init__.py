"""Language models: load one by name (``load``), prompt and generate (``generation``), score text (``scoring``)."""

from ftrag.lm.generation import (
    answer_questions,
    exact_match,
    format_prompt,
    generate,
    normalize_answer,
    rc_em,
    with_distractors,
    world_a_scores,
)
from ftrag.lm.load import (
    COURSE_MODELS,
    DEFAULT_MODEL,
    MODEL_ENV,
    ModelNotFoundError,
    ModelUnavailableError,
    context_of,
    device_of,
    load_model,
    resolve_model,
)
from ftrag.lm.scoring import (
    context_perplexity,
    continuation_nll,
    encode_for_lm,
    pad_id_of,
    pad_right,
    perplexity,
    token_losses,
)

__all__ = [
    "COURSE_MODELS",
    "DEFAULT_MODEL",
    "MODEL_ENV",
    "ModelNotFoundError",
    "ModelUnavailableError",
    "answer_questions",
    "context_of",
    "context_perplexity",
    "continuation_nll",
    "device_of",
    "encode_for_lm",
    "exact_match",
    "format_prompt",
    "generate",
    "load_model",
    "normalize_answer",
    "pad_id_of",
    "pad_right",
    "perplexity",
    "rc_em",
    "resolve_model",
    "token_losses",
    "with_distractors",
    "world_a_scores",
]
