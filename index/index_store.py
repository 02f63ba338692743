"""What the query side needs from an index, whichever store holds it.

Two stores implement `IndexStore`: the local one (`index.store.IndexData`: FAISS, bm25s and the
chunk files of one build folder) and PostgreSQL (`index.pg_store.PgIndex`: pgvector and BM25 term
statistics in tables). Fusion, evidence scoring and quote verification are shared and see only this.

Chunks are addressed by *row*: their position in `chunks`. Documents and chunk metadata (offsets,
sentence spans) are in memory in both stores; what a store keeps to itself is the vectors and the
lexical index, which it searches and hands out by row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from index.types import Chunk, Document

__all__ = ["IndexStore", "top_rows"]


@runtime_checkable
class IndexStore(Protocol):
    @property
    def manifest(self): ...  # index.store.Manifest: model, sources, per-document hashes and counts

    @property
    def documents(self) -> Mapping[str, Document]: ...

    @property
    def chunks(self) -> Sequence[Chunk]: ...

    def dense_top(
        self, query_vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k chunks nearest `query_vector` (inner product), best first: (scores, rows).
        `doc_ids` restricts the search to those documents' chunks."""
        ...

    def lexical_top(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k chunks with the highest BM25 score for `query` (only scores above 0), best first: (scores, rows)."""
        ...

    def lexical_scores(self, query: str, rows: np.ndarray) -> np.ndarray:
        """The BM25 score of `query` for each of `rows` (0 where no query word occurs)."""
        ...

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of `rows`, one per row, in that order."""
        ...

    def rows_of(self, doc_ids: Collection[str]) -> np.ndarray:
        """The rows of every chunk of these documents, ascending."""
        ...

    def is_current(self) -> bool:
        """False once a newer build has replaced the one this was read from (`rag index` run by another
        process): the caller then reads the store again. Cheap enough to call every few seconds."""
        ...


def top_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of the k best positive entries of a whole-corpus score array, best first."""
    order = np.argsort(-scores)[:k]
    order = order[scores[order] > 0]
    return scores[order], order.astype(np.int64)
