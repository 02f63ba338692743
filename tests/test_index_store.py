"""The IndexStore protocol: both stores implement it, and the retriever needs nothing else (no model, no server)."""

from __future__ import annotations

import numpy as np

from index.index_store import IndexStore, top_rows
from index.pg_store import PgIndex
from index.store import IndexData
from index.types import Chunk, Document
from rag.retriever import HybridRetriever, RetrievalSettings


class ListStore:
    """A hand-written store over arrays: four one-chunk documents, 2-d vectors, fixed lexical scores."""

    def __init__(self) -> None:
        texts = ["alpha beta", "beta gamma", "gamma delta", "delta alpha"]
        self.documents = {
            f"d{i}": Document(f"d{i}", t, f"D{i}", f"/d{i}.txt", "txt", f"h{i}") for i, t in enumerate(texts)
        }
        self.chunks = [Chunk(f"d{i}#0", f"d{i}", 0, len(t), t, ((0, len(t)),)) for i, t in enumerate(texts)]
        self.vectors = np.array([[1, 0], [0.8, 0.6], [0, 1], [-1, 0]], dtype=np.float32)
        self.lexical = np.array([0.0, 2.0, 1.0, 0.0], dtype=np.float32)
        self.manifest = None
        self.asked: list[str] = []

    def dense_top(self, query_vector, k, doc_ids=None):
        self.asked.append("dense_top")
        scores = self.vectors @ query_vector
        order = np.argsort(-scores)[:k]
        return scores[order], order

    def lexical_top(self, query, k):
        self.asked.append("lexical_top")
        return top_rows(self.lexical, k)

    def lexical_scores(self, query, rows):
        self.asked.append("lexical_scores")
        return self.lexical[rows]

    def vectors_of(self, rows):
        self.asked.append("vectors_of")
        return self.vectors[rows]

    def rows_of(self, doc_ids):
        return np.array([i for i, c in enumerate(self.chunks) if c.doc_id in set(doc_ids)], dtype=np.int64)

    def is_current(self):
        return True


def test_both_stores_and_the_fake_implement_the_protocol() -> None:
    assert isinstance(ListStore(), IndexStore)
    for store in (IndexData, PgIndex):
        for method in ("dense_top", "lexical_top", "lexical_scores", "vectors_of", "rows_of", "is_current"):
            assert callable(getattr(store, method)), (store, method)


def test_top_rows_keeps_the_k_best_positive_scores_best_first() -> None:
    scores, rows = top_rows(np.array([0.5, 0.0, 2.0, -1.0, 1.0], dtype=np.float32), 3)
    assert rows.tolist() == [2, 4, 0] and scores.tolist() == [2.0, 1.0, 0.5]
    assert top_rows(np.zeros(3, dtype=np.float32), 2)[1].size == 0


def test_the_retriever_fuses_whatever_the_store_returns() -> None:
    store = ListStore()
    query = np.array([1.0, 0.0], dtype=np.float32)
    ranked = HybridRetriever(store, RetrievalSettings(candidates=2)).rank("beta", query, None, 2)
    # Pool: dense top 2 (d0, d1) and lexical top 2 (d1, d2); d1 is best in both.
    assert next(store.chunks[h.row].doc_id for h in ranked) == "d1"
    # d2 came from the lexical side only and d0 from the dense side only: the missing score of each was
    # asked of the store by row, so every candidate carries both exact scores.
    assert "vectors_of" in store.asked and "lexical_scores" in store.asked
    for hit in ranked:
        assert hit.dense == float(store.vectors[hit.row] @ query) and hit.lexical == float(store.lexical[hit.row])


def test_a_document_filter_adds_its_chunks_scored_exactly() -> None:
    store = ListStore()
    query = np.array([1.0, 0.0], dtype=np.float32)
    ranked = HybridRetriever(store, RetrievalSettings(candidates=1)).rank("beta", query, ["d3"], 1)
    assert [store.chunks[h.row].doc_id for h in ranked] == ["d3"]
    assert ranked[0].dense == -1.0
