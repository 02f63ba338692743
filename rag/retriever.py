"""Hybrid retrieval: dense (FAISS) and lexical (BM25) scores fused per chunk.

Two fusions are available. `convex` (the default) min-max normalises each
score over the candidates and mixes them, alpha * dense + (1 - alpha) * lexical;
`rrf` is reciprocal rank fusion. docs/benchmarks.md has the measurements that
chose the default and alpha (SciFact and the default eval set).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from index.store import IndexData
from index.text import normalize
from rag.types import Passage

__all__ = ["HybridRetriever", "RetrievalSettings", "ScoredChunk"]


@dataclass(frozen=True)
class RetrievalSettings:
    fusion: str = "convex"  # "convex" or "rrf"
    alpha: float = 0.6  # weight of the dense score in convex fusion
    rrf_k: int = 60
    candidates: int = 100  # per retriever, before fusion
    mode: str = "hybrid"  # "hybrid", "dense" or "lexical"


@dataclass(frozen=True)
class ScoredChunk:
    row: int
    score: float
    dense: float
    lexical: float
    # score / the best fused score of any chunk, whether or not a document filter let it through:
    # how good this chunk is for the question, which a filter must not inflate.
    relative: float = 1.0


def _minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.ones_like(values) if high > 0 else np.zeros_like(values)
    return (values - low) / (high - low)


class HybridRetriever:
    def __init__(self, data: IndexData, settings: RetrievalSettings | None = None) -> None:
        self.data = data
        self.settings = settings or RetrievalSettings()

    def _mask(self, doc_ids: Collection[str] | None) -> np.ndarray | None:
        if not doc_ids:
            return None
        wanted = set(doc_ids)
        return np.array([c.doc_id in wanted for c in self.data.chunks], dtype=bool)

    def rank(
        self,
        query: str,
        query_vector: np.ndarray,
        doc_ids: Collection[str] | None = None,
        limit: int = 20,
    ) -> list[ScoredChunk]:
        """Chunk rows ranked by fused score (near-duplicates not yet removed)."""
        settings = self.settings
        total = len(self.data.chunks)
        if total == 0:
            return []
        mask = self._mask(doc_ids)
        # With a document filter, look at every chunk so the filter cannot empty the list.
        depth = total if mask is not None else min(total, max(settings.candidates, limit))

        dense_all = np.full(total, np.nan, dtype=np.float32)
        if settings.mode != "lexical":
            scores, rows = self.data.dense.search(query_vector, depth)
            dense_all[rows] = scores
        lexical_all = self.data.lexical.scores(query) if settings.mode != "dense" else np.zeros(total, dtype=np.float32)

        candidates = set(np.flatnonzero(~np.isnan(dense_all)).tolist())
        if settings.mode != "dense":
            top_lexical = np.argsort(-lexical_all)[:depth]
            candidates.update(int(r) for r in top_lexical if lexical_all[r] > 0)
        rows = np.array(sorted(candidates), dtype=np.int64)
        if rows.size == 0:
            return []
        dense = dense_all[rows]
        missing = np.isnan(dense)
        if missing.any():  # lexical-only candidates: score them exactly
            vectors = self.data.vectors[rows[missing]]
            dense[missing] = vectors @ query_vector
        lexical = lexical_all[rows]

        if settings.mode == "dense":
            fused = dense
        elif settings.mode == "lexical":
            fused = lexical
        elif settings.fusion == "rrf":
            fused = _rrf(dense, settings.rrf_k) + _rrf(lexical, settings.rrf_k)
        else:
            fused = settings.alpha * _minmax(dense) + (1 - settings.alpha) * _minmax(lexical)
        # Scores are normalised and fused over every candidate; a document filter applies after,
        # so a filtered document's chunks keep the scores they would have without it.
        best = float(fused.max())
        order = np.argsort(-fused, kind="stable")
        if mask is not None:
            order = order[mask[rows[order]]]
        return [
            ScoredChunk(
                int(rows[i]),
                float(fused[i]),
                float(dense[i]),
                float(lexical[i]),
                float(fused[i]) / best if best > 0 else 0.0,
            )
            for i in order[:limit]
        ]

    def passages(self, ranked: list[ScoredChunk], k: int) -> list[Passage]:
        """The top k distinct passages: a chunk overlapping a better one is dropped."""
        chosen: list[Passage] = []
        seen_text: set[str] = set()
        for hit in ranked:
            chunk = self.data.chunks[hit.row]
            overlaps = any(p.doc_id == chunk.doc_id and p.start < chunk.end and chunk.start < p.end for p in chosen)
            key = normalize(chunk.text)
            if overlaps or key in seen_text:
                continue
            seen_text.add(key)
            document = self.data.documents[chunk.doc_id]
            chosen.append(
                Passage(
                    doc_id=chunk.doc_id,
                    chunk_id=chunk.id,
                    title=document.title,
                    text=chunk.text,
                    start=chunk.start,
                    end=chunk.end,
                    score=hit.score,
                    dense=hit.dense,
                    lexical=hit.lexical,
                    page=chunk.page,
                )
            )
            if len(chosen) == k:
                break
        return chosen


def _rrf(scores: np.ndarray, k: int) -> np.ndarray:
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return 1.0 / (k + ranks)
