"""The web chat's streaming path with the real local model on the real corpus (no fakes).

Skipped when llama-cpp-python or the GGUF is missing (the `gguf` fixture in tests/conftest.py).
About 20-30 s on a busy 2-core machine.
"""

from __future__ import annotations

import html
import re

import pytest

from rag.generators import LlamaCppGenerator
from ui import chat

pytestmark = [pytest.mark.slow, pytest.mark.llm]


@pytest.fixture(scope="module")
def local(local_llm) -> LlamaCppGenerator:
    return local_llm


def test_the_real_model_streams_a_draft_then_a_verified_answer(engine, local) -> None:
    states = list(chat.stream_generated(engine, "Who was sent to Geneva to negotiate?", [], local))
    *drafts, final = states
    shown = [
        html.unescape(match.group(1))
        for state in drafts
        if (match := re.search(r'<p class="rag-draft-text">(.*?)</p>', state.html, re.S))
    ]
    assert len(shown) >= 2, "the draft should appear and grow while the model writes"

    assert final.error is None and not final.draft
    answer = final.answer
    assert answer is not None and answer.generation is not None
    raw = answer.generation.raw_answer
    assert all(raw.startswith(text) for text in shown)
    assert "Rubio" in answer.answer and answer.citations
    for citation in answer.citations:
        document = engine.data.documents[citation.doc_id]
        assert document.text[citation.start : citation.end] == citation.quote
    assert f'id="cite-{final.id}-1"' in final.html
