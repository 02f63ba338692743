"""Shared fixtures: the real packaged model on the real default corpus, built once per run."""

from pathlib import Path

import pytest

from index.builder import build_index
from index.embedder import SentenceTransformerEmbedder
from index.paths import DEFAULT_CORPUS


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory, embedder) -> Path:
    index_dir = tmp_path_factory.mktemp("corpus-index")
    build_index([DEFAULT_CORPUS], index_dir, embedder)
    return index_dir


@pytest.fixture(scope="session")
def engine(corpus_index, embedder):
    from rag.engine import Engine

    return Engine.open(corpus_index, embedder=embedder, build_if_missing=False)
