"""Lexical search: BM25 over stemmed word tokens (bm25s lives here only)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from index.text import tokenize

__all__ = ["BM25_B", "BM25_K1", "LexicalIndex"]

# Lucene-style BM25. b = 0.4 (weak length normalisation) won on SciFact's train claims, alone and
# fused, and is neutral-to-better on the default eval set (docs/benchmarks.md): chunks are nearly
# uniform in length, so strong normalisation mostly adds noise. k1 moved results by only +-0.003.
BM25_K1 = 1.2
BM25_B = 0.4


class LexicalIndex:
    def __init__(self, retriever: object, size: int) -> None:
        self._retriever = retriever
        self._vocab: dict[str, int] = retriever.vocab_dict  # type: ignore[attr-defined]
        self.size = size

    @classmethod
    def build(cls, texts: list[str], k1: float = BM25_K1, b: float = BM25_B) -> LexicalIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene")
        # An empty token keeps documents without words indexable.
        retriever.index([tokenize(text) or [""] for text in texts], show_progress=False)
        return cls(retriever, len(texts))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)  # type: ignore[attr-defined]

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), show_progress=False), size)

    def scores(self, query: str) -> np.ndarray:
        """A BM25 score for every indexed text (zeros when no query word is known)."""
        ids = [self._vocab[token] for token in tokenize(query) if token in self._vocab]
        if not ids or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(ids), dtype=np.float32)  # type: ignore[attr-defined]
