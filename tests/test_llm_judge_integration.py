"""The LLM entailment judge with the real local model (no fakes): three judgments.

Needs llama-cpp-python (`scripts/install_llama.sh`) and a GGUF model
(`scripts/fetch_test_model.sh`, or any GGUF file named by RAG_TEST_GGUF);
skipped when either is missing. About 5–10 s per judgment on 2 busy cores.
"""

from __future__ import annotations

import pytest

from rag.entailment import LlmJudge

pytestmark = [pytest.mark.slow, pytest.mark.llm]

QUOTE = (
    "Consequently, Secretary of State Marco Rubio has been dispatched to Geneva to negotiate with President Zelensky."
)


@pytest.fixture(scope="module")
def judge(local_llm) -> LlmJudge:
    return LlmJudge(local_llm)


def test_the_model_tells_a_supported_statement_from_an_unsupported_one(judge):
    assert judge.supports("Marco Rubio was sent to Geneva.", [QUOTE])
    assert not judge.supports("Marco Rubio refused to go to Geneva.", [QUOTE])
    # The stream stopped early each time; the model still answers the next question normally.
    assert judge.supports("Rubio went to Geneva to negotiate with Zelensky.", [QUOTE])
    assert judge.calls == 3 and judge.unparsed == 0
