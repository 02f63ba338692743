"""The build side: files -> documents -> sentences -> chunks -> vectors -> index on disk."""

from index.builder import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, IndexSummary, build_index
from index.embedder import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder
from index.errors import (
    DocumentLoadError,
    IndexBusyError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidQuestionError,
    RagError,
)
from index.paths import DEFAULT_CORPUS, PROJECT_ROOT, default_index_dir
from index.store import IndexData, Manifest, read_index
from index.types import Chunk, Document, Span

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
    "build_index",
    "default_index_dir",
    "read_index",
]
