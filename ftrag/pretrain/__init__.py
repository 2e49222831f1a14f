"""How the course model was made: ``python -m ftrag.pretrain`` trains its tokenizer and model on World A.

The recipe is one dataclass (``config``); the loop (``loop``) reads batches (``data``) cut by the course tokenizer
(``tokenizer``), picks its precision by measuring (``precision``) and records the run (``report``).
"""

from ftrag.pretrain.config import PretrainConfig
from ftrag.pretrain.loop import train

__all__ = ["PretrainConfig", "train"]
