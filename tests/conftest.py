"""Shared fixtures: the real packaged model on the real default corpus, built once per run.

Tests marked `llm` skip when llama-cpp-python or the GGUF model is missing, which suits a
developer's quick run. CI must not pass by skipping them: scripts/test.sh installs both and sets
RAG_REQUIRE_LLM=1, and then any skipped `llm` test fails the run.
"""

import importlib.util
import os
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


TEST_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"  # what scripts/fetch_test_model.sh stores


@pytest.fixture(scope="session")
def gguf() -> Path:
    """The test GGUF (RAG_TEST_GGUF, else the fetch script's cache); skips without it or llama-cpp-python."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: run scripts/install_llama.sh")
    cache = Path(os.environ.get("RAG_MODEL_CACHE") or Path.home() / ".cache" / "grounded-rag")
    path = Path(os.environ.get("RAG_TEST_GGUF") or cache / TEST_MODEL_FILE)
    if not path.is_file():
        pytest.skip(f"no GGUF model at {path}: run scripts/fetch_test_model.sh or set RAG_TEST_GGUF")
    return path


@pytest.fixture(scope="session")
def local_llm(gguf):
    """The real local model, loaded once for every test that needs it (1.1 GB: one copy in memory)."""
    from rag.generators import LlamaCppGenerator

    generator = LlamaCppGenerator(gguf)
    generator.load()
    return generator


@pytest.fixture(scope="session")
def engine(corpus_index, embedder):
    from rag.engine import Engine

    return Engine.open(corpus_index, embedder=embedder, build_if_missing=False)


_skipped_llm_tests: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "llm" in report.keywords:
        _skipped_llm_tests.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("RAG_REQUIRE_LLM") == "1" and _skipped_llm_tests:
        print(f"\nRAG_REQUIRE_LLM=1 but {len(_skipped_llm_tests)} llm tests were skipped:")
        for nodeid in _skipped_llm_tests:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
