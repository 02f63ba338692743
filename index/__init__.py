"""The build side: files -> documents -> sentences -> chunks -> vectors -> index on disk.

Also the ground floor every other layer stands on: the shared types (`index.types`),
text rules (`index.text`, `index.sentences`) and the error hierarchy (`index.errors`).
Names are imported on first use (PEP 562), so `from index.errors import RagError`
does not load the chunker, faiss or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_HOMES = {
    "DEFAULT_CHUNK_OVERLAP": "index.builder",
    "DEFAULT_CHUNK_SIZE": "index.builder",
    "IndexSummary": "index.builder",
    "build_index": "index.builder",
    "DEFAULT_MODEL": "index.embedder",
    "Embedder": "index.embedder",
    "SentenceTransformerEmbedder": "index.embedder",
    "DocumentLoadError": "index.errors",
    "IndexBusyError": "index.errors",
    "IndexMismatchError": "index.errors",
    "IndexNotFoundError": "index.errors",
    "InvalidQuestionError": "index.errors",
    "RagError": "index.errors",
    "UsageError": "index.errors",
    "open_index": "index.open",
    "DEFAULT_CORPUS": "index.paths",
    "PROJECT_ROOT": "index.paths",
    "default_index_dir": "index.paths",
    "IndexData": "index.store",
    "Manifest": "index.store",
    "read_index": "index.store",
    "Chunk": "index.types",
    "Document": "index.types",
    "Span": "index.types",
}
__all__ = [
    "DEFAULT_CHUNK_OVERLAP",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CORPUS",
    "DEFAULT_MODEL",
    "PROJECT_ROOT",
    "Chunk",
    "Document",
    "DocumentLoadError",
    "Embedder",
    "IndexBusyError",
    "IndexData",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexSummary",
    "InvalidQuestionError",
    "Manifest",
    "RagError",
    "SentenceTransformerEmbedder",
    "Span",
    "UsageError",
    "build_index",
    "default_index_dir",
    "open_index",
    "read_index",
]

if TYPE_CHECKING:
    from index.builder import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, IndexSummary, build_index
    from index.embedder import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder
    from index.errors import (
        DocumentLoadError,
        IndexBusyError,
        IndexMismatchError,
        IndexNotFoundError,
        InvalidQuestionError,
        RagError,
        UsageError,
    )
    from index.open import open_index
    from index.paths import DEFAULT_CORPUS, PROJECT_ROOT, default_index_dir
    from index.store import IndexData, Manifest, read_index
    from index.types import Chunk, Document, Span


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
