"""Shared fixtures: the real packaged model on the real default corpus, built once per run.

Tests marked `llm` skip when llama-cpp-python or the GGUF model is missing, which suits a
developer's quick run. CI must not pass by skipping them: scripts/test.sh installs both and sets
RAG_REQUIRE_LLM=1, and then any skipped `llm` test fails the run. The same holds for the tests of the
EmbeddingGemma scorer (`gemma_engine`, marked `scorer`) with RAG_REQUIRE_SCORER=1.

The command line's default scorer is "auto" (EmbeddingGemma when it is installed). Commands that
tests run, in-process or as subprocesses, score with MiniLM unless a test asks for another scorer:
each would otherwise load a 1.2 GB model and embed its corpus's sentences again in its own index.
"""

import importlib.util
import os
from pathlib import Path

import pytest

from index.builder import build_index
from index.embedder import SentenceTransformerEmbedder
from index.paths import DEFAULT_CORPUS

os.environ.setdefault("RAG_EVIDENCE_SCORER", "minilm")

pytest_plugins = ["tests.pg_fixtures"]  # a real PostgreSQL for the store tests (started only when one asks)


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


@pytest.fixture(scope="session")
def gemma_engine(corpus_index, embedder):
    """The engine on the real corpus with the EmbeddingGemma scorer; skips when it is not fetched."""
    from index.embedder import installed_scorer_path
    from index.onnx_embedder import make_scorer
    from rag.engine import Engine

    if installed_scorer_path() is None:
        pytest.skip("EmbeddingGemma-300M is not fetched: run scripts/fetch_scorer.sh")
    return Engine.open(corpus_index, embedder=embedder, build_if_missing=False, scorer=make_scorer())


@pytest.fixture(params=["minilm", "embeddinggemma"])
def any_engine(request):
    """The real engine with each evidence scorer in turn (the second skips when it is not fetched)."""
    if request.param == "embeddinggemma":
        request.node.add_marker("scorer")
        return request.getfixturevalue("gemma_engine")
    return request.getfixturevalue("engine")


_skipped_required: dict[str, list[str]] = {"llm": [], "scorer": []}
_REQUIRED = {"llm": "RAG_REQUIRE_LLM", "scorer": "RAG_REQUIRE_SCORER"}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for marker, skipped in _skipped_required.items():
        if report.skipped and marker in report.keywords and not hasattr(report, "wasxfail"):  # xfail is no skip
            skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for marker, skipped in _skipped_required.items():
        variable = _REQUIRED[marker]
        if os.environ.get(variable) == "1" and skipped:
            print(f"\n{variable}=1 but {len(skipped)} {marker} tests were skipped:")
            for nodeid in skipped:
                print(f"  {nodeid}")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
