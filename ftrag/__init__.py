"""Helpers for the course *Fine-tune or RAG?*: every notebook imports what earlier lessons built from here."""

from ftrag.env import get_device, seed_everything
from ftrag.paths import data_dir, data_path, repo_root

__all__ = ["data_dir", "data_path", "get_device", "repo_root", "seed_everything"]
__version__ = "0.1.0"
