"""Helpers for the course *Fine-tune or RAG?*: every notebook imports what earlier lessons built from here."""

import logging
import warnings

from ftrag.env import get_device, seed_everything
from ftrag.paths import data_dir, data_path, repo_root

# Library noise a learner cannot act on, which names files on this machine: bitsandbytes looks for an optional CPU
# kernel package (`kernels`); peft calls methods that transformers 5 renamed; peft's save cannot find a config for
# the base model's local name (it then assumes the vocabulary is unchanged, which is true: token rows are saved).
# Set here, on any import of the course package, so that labs and checks (which may import peft directly) get it too.
# (bitsandbytes 0.50 says it through its logger, not warnings; the course switches that CPU path off anyway:
# ftrag.lm.load._plain_cpu_4bit_inference. Errors from that module still show.)
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message=".*(is_)?gradient_checkpointing.*deprecated", category=FutureWarning)
warnings.filterwarnings("ignore", message="Could not find a config file in")

__all__ = ["data_dir", "data_path", "get_device", "repo_root", "seed_everything"]
__version__ = "0.1.0"
