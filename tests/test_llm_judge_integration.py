"""The LLM entailment judge with the real local model (no fakes): three judgments.

Needs llama-cpp-python (`scripts/install_llama.sh`) and a GGUF model
(`scripts/fetch_test_model.sh`, or any GGUF file named by RAG_TEST_GGUF);
skipped when either is missing. About 5–10 s per judgment on 2 busy cores.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from eval.llm_judge import LlmJudge
from rag.generators import LlamaCppGenerator

pytestmark = [pytest.mark.slow, pytest.mark.llm]

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QUOTE = (
    "Consequently, Secretary of State Marco Rubio has been dispatched to Geneva to negotiate with President Zelensky."
)


def _gguf_path() -> Path:
    if os.environ.get("RAG_TEST_GGUF"):
        return Path(os.environ["RAG_TEST_GGUF"])
    cache = Path(os.environ.get("RAG_MODEL_CACHE") or Path.home() / ".cache" / "grounded-rag")
    return cache / MODEL_FILE


@pytest.fixture(scope="module")
def judge() -> LlmJudge:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: run scripts/install_llama.sh")
    path = _gguf_path()
    if not path.is_file():
        pytest.skip(f"no GGUF model at {path}: run scripts/fetch_test_model.sh or set RAG_TEST_GGUF")
    generator = LlamaCppGenerator(path)
    generator.load()
    return LlmJudge(generator)


def test_the_model_tells_a_supported_statement_from_an_unsupported_one(judge):
    assert judge.supports("Marco Rubio was sent to Geneva.", [QUOTE])
    assert not judge.supports("Marco Rubio refused to go to Geneva.", [QUOTE])
    # The stream stopped early each time; the model still answers the next question normally.
    assert judge.supports("Rubio went to Geneva to negotiate with Zelensky.", [QUOTE])
    assert judge.calls == 3 and judge.unparsed == 0
