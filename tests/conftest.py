"""Shared fixtures: the real packaged model on the real default corpus, built once per run.

Tests marked `llm` skip when llama-cpp-python or the GGUF model is missing, which suits a
developer's quick run. CI must not pass by skipping them: scripts/test.sh installs both and sets
RAG_REQUIRE_LLM=1, and then any skipped `llm` test fails the run.
"""

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
