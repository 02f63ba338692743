"""Small hand-written fakes (no model download, no patching)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.text import tokenize

# Two tiny hand-written documents shaped like the default corpus (a title line, then prose).
TALKS = (
    "Russian-US talks over Ukraine\n\n"
    "The plan has 28 points and was drafted in Miami. "
    "Ukraine would be obliged to slash its armed forces to 600,000 personnel. "
    "Consequently, Secretary of State Marco Rubio has been dispatched to Geneva to negotiate with President Zelensky. "
    "He met European leaders there on Sunday."
)
PEACE = (
    "For a peace from below\n\n"
    "Washington issued an ultimatum to Kyiv, demanding that it accept Russian conditions. "
    "Opinion polls show that 57 percent of Russians are tired of the war."
)


class CountingEmbedder:
    """Bag-of-stemmed-words hashed into 64 dimensions; counts every text it embeds."""

    def __init__(self, name: str = "fake-embedder", dimension: int = 64, max_tokens: int = 40) -> None:
        self.name = name
        self._dimension = dimension
        self._max_tokens = max_tokens
        self.embedded: list[str] = []

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.embedded.extend(texts)
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text) or ["<empty>"]:
                bucket = int(hashlib.md5(token.encode()).hexdigest(), 16) % self._dimension
                vectors[row, bucket] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)


def two_document_engine(root: Path):
    """An Engine over TALKS and PEACE in `root`, embedded by a fresh CountingEmbedder (no model)."""
    from index.builder import build_index
    from rag.engine import Engine

    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "talks.txt").write_text(TALKS, encoding="utf-8")
    (corpus / "peace.txt").write_text(PEACE, encoding="utf-8")
    embedder = CountingEmbedder()
    build_index([corpus], root / "index", embedder)
    return Engine.open(root / "index", embedder=embedder, build_if_missing=False)
