"""The web chat's streaming path with the real local model on the real corpus (no fakes).

Skipped when llama-cpp-python or the GGUF is missing (see tests/test_llm_integration.py,
whose model lookup this repeats: RAG_TEST_GGUF, else the fetch script's cache path).
About 20-30 s on a busy 2-core machine.
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
from pathlib import Path

import pytest

from rag.generators import LlamaCppGenerator
from ui import chat

pytestmark = [pytest.mark.slow, pytest.mark.llm]

MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


@pytest.fixture(scope="module")
def local() -> LlamaCppGenerator:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: run scripts/install_llama.sh")
    cache = Path(os.environ.get("RAG_MODEL_CACHE") or Path.home() / ".cache" / "grounded-rag")
    path = Path(os.environ.get("RAG_TEST_GGUF") or cache / MODEL_FILE)
    if not path.is_file():
        pytest.skip(f"no GGUF model at {path}: run scripts/fetch_test_model.sh or set RAG_TEST_GGUF")
    generator = LlamaCppGenerator(path)
    generator.load()
    return generator


def test_the_real_model_streams_a_draft_then_a_verified_answer(engine, local) -> None:
    states = list(chat.stream_generated(engine, "Who was sent to Geneva to negotiate?", [], local))
    *drafts, final = states
    shown = [
        html.unescape(match.group(1))
        for state in drafts
        if (match := re.search(r'<p class="rag-draft-text">(.*?)</p>', str(state["html"]), re.S))
    ]
    assert len(shown) >= 2, "the draft should appear and grow while the model writes"

    assert final["error"] is None and not final.get("draft")
    answer = final["answer"]
    raw = answer["generation"]["raw_answer"]
    assert all(raw.startswith(text) for text in shown)
    assert "Rubio" in answer["answer"] and answer["citations"]
    for citation in answer["citations"]:
        document = engine.data.documents[citation["doc_id"]]
        assert document.text[citation["start"] : citation["end"]] == citation["quote"]
    assert f'id="cite-{final["id"]}-1"' in str(final["html"])
