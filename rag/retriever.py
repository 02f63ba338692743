"""Hybrid retrieval: dense and lexical (BM25) scores fused per chunk, from any `IndexStore`.

The store (local FAISS + bm25s, or PostgreSQL + pgvector: `index.index_store`) answers top-k
and by-row questions; the fusion here is the same for both.

Two fusions are available. `convex` (the default) min-max normalises each
score over the candidates and mixes them, alpha * dense + (1 - alpha) * lexical;
`rrf` is reciprocal rank fusion. docs/benchmarks.md has the measurements that
chose the default and alpha (SciFact and the default eval set).

A third signal joins when the engine has a separate evidence scorer (EmbeddingGemma): each
chunk's best sentence, the highest cosine between the question and one of its sentences under
the scorer (`sentence_scores`, from the vectors stored beside the index). Convex fusion then
gives it `sentence_weight` of the score: (1 - w) * (alpha * dense + (1 - alpha) * lexical) + w * sentence
(rrf weighs its reciprocal ranks the same way; a weight of 0, or the dense or lexical mode, leaves it out).
A passage is found by the one sentence that answers, even when the rest of it is about
something else or shares no word with the question (docs/scorer.md, "The scorer retrieves too").
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from index.index_store import IndexStore
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
    # The share of the convex score given to `sentence_scores` when a search has them (picked on the dev
    # split: `python -m eval.benchmarks.sentence_signal`, docs/scorer.md).
    sentence_weight: float = 0.6


@dataclass(frozen=True)
class ScoredChunk:
    row: int
    score: float
    dense: float
    lexical: float
    # score / the best fused score in the pool (the unfiltered candidates), whether or not a document
    # filter is set: how good this chunk is for the question, which a filter must not inflate.
    relative: float = 1.0


def _scaled(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Min-max scaling of `values` by the range of `reference` (the pool), clipped to [0, 1]."""
    if values.size == 0 or reference.size == 0:
        return np.zeros_like(values)
    low, high = float(reference.min()), float(reference.max())
    if high - low < 1e-9:
        return np.where(values >= high, 1.0 if high > 0 else 0.0, 0.0).astype(values.dtype)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


class HybridRetriever:
    def __init__(self, data: IndexStore, settings: RetrievalSettings | None = None) -> None:
        self.data = data
        self.settings = settings or RetrievalSettings()

    def rank(
        self,
        query: str,
        query_vector: np.ndarray,
        doc_ids: Collection[str] | None = None,
        limit: int = 20,
        sentence_scores: np.ndarray | None = None,
    ) -> list[ScoredChunk]:
        """Chunk rows ranked by fused score (near-duplicates not yet removed).

        `sentence_scores`, one per chunk row, is each chunk's best sentence under a separate scorer;
        given, its best chunks join the pool and it is fused as the module docstring says."""
        settings = self.settings
        store = self.data
        total = len(store.chunks)
        if total == 0:
            return []
        # The pool: the best `depth` chunks of each retriever, over all documents. Scores are
        # normalised over the pool whether or not a document filter is set, so a filter narrows
        # the list without lifting its documents' scores; it also adds all its own chunks, so it
        # cannot empty the list.
        depth = min(total, max(settings.candidates, limit))
        dense_found: dict[int, float] = {}
        lexical_found: dict[int, float] = {}
        if settings.mode != "lexical":
            scores, found = store.dense_top(query_vector, depth)
            dense_found = dict(zip(found.tolist(), scores.tolist(), strict=True))
        if settings.mode != "dense":
            scores, found = store.lexical_top(query, depth)
            lexical_found = dict(zip(found.tolist(), scores.tolist(), strict=True))
        # The sentence signal counts only when it is fused with some weight: at 0 it would still widen the
        # pool the others are scaled over, and so move their scores.
        if sentence_scores is not None and (settings.mode != "hybrid" or settings.sentence_weight <= 0):
            sentence_scores = None
        pool = set(dense_found) | set(lexical_found)
        if sentence_scores is not None:
            best_by_sentence = np.argpartition(-sentence_scores, depth - 1)[:depth] if depth < total else range(total)
            pool |= {int(row) for row in best_by_sentence}
        scope = store.rows_of(doc_ids) if doc_ids else None
        rows = np.array(sorted(pool | set(scope.tolist()) if scope is not None else pool), dtype=np.int64)
        if rows.size == 0 or not pool:
            return []
        # Candidates one retriever did not return are scored exactly by the other's means.
        dense = np.array([dense_found.get(int(r), np.nan) for r in rows], dtype=np.float32)
        missing = np.isnan(dense)
        if missing.any():
            dense[missing] = store.vectors_of(rows[missing]) @ query_vector
        lexical = np.array([lexical_found.get(int(r), np.nan) for r in rows], dtype=np.float32)
        if settings.mode == "dense":
            lexical[:] = 0.0
        else:
            unknown = np.isnan(lexical)
            if unknown.any():
                lexical[unknown] = store.lexical_scores(query, rows[unknown])
        in_pool = np.isin(rows, np.fromiter(pool, dtype=np.int64))

        if settings.mode == "dense":
            fused = dense
        elif settings.mode == "lexical":
            fused = lexical
        elif settings.fusion == "rrf":
            fused = _rrf(dense, settings.rrf_k) + _rrf(lexical, settings.rrf_k)
            if sentence_scores is not None:  # weighted as in convex fusion: the two others share 1 - w
                weight = settings.sentence_weight
                fused = (1 - weight) * fused / 2 + weight * _rrf(sentence_scores[rows], settings.rrf_k)
        else:
            fused = settings.alpha * _scaled(dense, dense[in_pool]) + (1 - settings.alpha) * _scaled(
                lexical, lexical[in_pool]
            )
            if sentence_scores is not None:
                sentence = sentence_scores[rows].astype(np.float32)
                weight = settings.sentence_weight
                fused = (1 - weight) * fused + weight * _scaled(sentence, sentence[in_pool])
        best = float(fused[in_pool].max())
        order = np.argsort(-fused, kind="stable")
        if scope is not None:
            order = order[np.isin(rows[order], scope)]
        return [
            ScoredChunk(
                int(rows[i]),
                float(fused[i]),
                float(dense[i]),
                float(lexical[i]),
                min(1.0, float(fused[i]) / best) if best > 0 else 0.0,
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
