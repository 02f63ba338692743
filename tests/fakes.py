"""Small hand-written fakes (no model download, no patching)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from index.text import tokenize


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
