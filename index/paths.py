"""Where things live by default: the shipped corpus and the index folder."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_CORPUS", "PROJECT_ROOT", "default_index_dir"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = PROJECT_ROOT / "corpus"


def default_index_dir() -> Path:
    """RAG_INDEX_DIR if set, else `.rag-index/` in the project folder (git-ignored)."""
    configured = os.environ.get("RAG_INDEX_DIR")
    return Path(configured) if configured else PROJECT_ROOT / ".rag-index"
