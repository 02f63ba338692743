"""Dense vector search (faiss lives here only).

Exact inner-product search (`flat`) is the default: on normalised vectors it is
cosine similarity, and below ~50k chunks it is fast enough and never misses.
Above AUTO_HNSW_ABOVE chunks `auto` switches to an HNSW graph, which answers in
a few milliseconds at millions of vectors for a small loss of recall.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["AUTO_HNSW_ABOVE", "INDEX_KINDS", "VectorStore"]

AUTO_HNSW_ABOVE = 50_000
INDEX_KINDS = ("auto", "flat", "hnsw")
_HNSW_NEIGHBOURS = 32
_HNSW_EF_SEARCH = 128


def _faiss():
    import faiss  # imported on first use: keeps `rag --help` fast

    return faiss


class VectorStore:
    def __init__(self, index: object, kind: str) -> None:
        self._index = index
        self.kind = kind

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "auto") -> VectorStore:
        if kind not in INDEX_KINDS:
            raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
        faiss = _faiss()
        count, dimension = vectors.shape
        if kind == "auto":
            kind = "hnsw" if count > AUTO_HNSW_ABOVE else "flat"
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dimension, _HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = _HNSW_EF_SEARCH
        else:
            index = faiss.IndexFlatIP(dimension)
        if count:
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, kind)

    def save(self, path: Path) -> None:
        _faiss().write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str) -> VectorStore:
        index = _faiss().read_index(str(path))
        if kind == "hnsw":
            index.hnsw.efSearch = _HNSW_EF_SEARCH
        return cls(index, kind)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, row ids) for one normalised query vector."""
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]
