"""A scoring model's vectors for every sentence of an index, computed once and kept beside it.

A larger evidence scorer (EmbeddingGemma-300M) costs tens of milliseconds a sentence on two
cores: embedding each question's candidate sentences when it is asked made answers several
times slower than with MiniLM. A sentence's vector depends only on its text and the model, so
the vectors of every sentence are computed once, when the index is built or first opened with
the scorer, and kept in `<index dir>/scorer-vectors/<model>.npz`, keyed by a digest of the
text: a later build embeds only the sentences it has not seen, and a question embeds only itself.

The file is replaced atomically (written beside, then renamed); a damaged or foreign file is
ignored and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from index.embedder import Embedder
    from index.store import IndexData

__all__ = ["SentenceVectors", "cache_path", "index_sentence_texts", "prepare_sentence_vectors", "text_key"]

_FOLDER = "scorer-vectors"
_KEY_BYTES = 16


def text_key(text: str) -> bytes:
    """The digest a sentence's vector is stored under."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=_KEY_BYTES).digest()


def cache_path(index_dir: Path, model_name: str) -> Path:
    """Where `model_name`'s sentence vectors for the index in `index_dir` are kept."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name).strip("-") or "model"
    return Path(index_dir) / _FOLDER / f"{safe}.npz"


class SentenceVectors:
    """Vectors by sentence text for one model; `ensure` fills in what is missing."""

    def __init__(self, dimension: int, vectors: dict[bytes, np.ndarray] | None = None) -> None:
        self.dimension = dimension
        self._vectors: dict[bytes, np.ndarray] = dict(vectors or {})

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, text: str) -> np.ndarray | None:
        return self._vectors.get(text_key(text))

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The distinct texts that have no vector yet, in first-seen order."""
        seen: set[bytes] = set()
        out = []
        for text in texts:
            key = text_key(text)
            if key not in self._vectors and key not in seen:
                seen.add(key)
                out.append(text)
        return out

    def ensure(self, texts: Sequence[str], embed: Callable[[Sequence[str]], np.ndarray]) -> int:
        """Embed the texts that have no vector yet; how many were embedded."""
        todo = self.missing(texts)
        if todo:
            fresh = np.asarray(embed(todo), dtype=np.float32)
            for text, vector in zip(todo, fresh, strict=True):
                self._vectors[text_key(text)] = vector
        return len(todo)

    def keep_only(self, texts: Iterable[str]) -> None:
        """Forget the vectors of sentences no longer in the index (so the file does not only grow)."""
        wanted = {text_key(t) for t in texts}
        self._vectors = {k: v for k, v in self._vectors.items() if k in wanted}

    @classmethod
    def load(cls, path: Path, dimension: int) -> SentenceVectors:
        """The vectors in `path`; empty when the file is missing, damaged or of another dimension."""
        try:
            with np.load(path, allow_pickle=False) as stored:
                keys, vectors = stored["keys"], stored["vectors"]
        except (OSError, ValueError, KeyError, EOFError):
            return cls(dimension)
        if vectors.ndim != 2 or vectors.shape[1] != dimension or len(keys) != len(vectors):
            return cls(dimension)
        if keys.dtype != np.dtype(f"S{_KEY_BYTES}"):
            return cls(dimension)
        return cls(dimension, {bytes(k): v for k, v in zip(keys, vectors.astype(np.float32), strict=True)})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype=f"S{_KEY_BYTES}")
        vectors = (
            np.vstack(list(self._vectors.values())).astype(np.float32)
            if self._vectors
            else np.zeros((0, self.dimension), dtype=np.float32)
        )
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, keys=keys, vectors=vectors)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def index_sentence_texts(data: IndexData) -> list[str]:
    """Every distinct sentence of the index's chunks, and every document title (summaries score titles)."""
    seen: set[tuple[str, int, int]] = set()
    texts = [document.title for document in data.documents.values()]
    for chunk in data.chunks:
        text = data.documents[chunk.doc_id].text
        for start, end in chunk.sentences:
            if (chunk.doc_id, start, end) not in seen:
                seen.add((chunk.doc_id, start, end))
                texts.append(text[start:end])
    return texts


def prepare_sentence_vectors(
    index_dir: Path, data: IndexData, scorer: Embedder, *, progress: bool = False
) -> tuple[SentenceVectors, int]:
    """`scorer`'s vectors for every sentence of the index, loading what was kept and embedding the rest.

    Returns the vectors and how many sentences were embedded now; the file is rewritten only
    when something changed (new sentences, or sentences of removed documents to forget).
    """
    path = cache_path(index_dir, scorer.name)
    vectors = SentenceVectors.load(path, scorer.dimension)
    texts = index_sentence_texts(data)
    before = len(vectors)
    added = vectors.ensure(texts, lambda todo: scorer.embed(todo, progress=progress))
    vectors.keep_only(texts)
    if added or len(vectors) != before + added:
        vectors.save(path)
    return vectors, added
