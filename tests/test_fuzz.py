"""Fuzzed questions and histories through the Python API: an answer or a clear error, never a crash.

Seeded and bounded (200 questions, each also with a fuzzed history): the real model and corpus, so the
strings reach retrieval, evidence scoring and JSON like a program's would.
"""

from __future__ import annotations

import json
import random

import pytest

from index.errors import InvalidQuestionError
from rag.engine import Engine
from rag.types import Turn

pytestmark = pytest.mark.slow

CONTROL = ["\ud800", "\udfff", "\x00", "\x07", "\x1b[31m", "\u202e", "\ufeff", "\u00a0", "\n", "\t", "  "]
WORDS = ["Geneva", "Rubio", "plan", "28", "who", "what", "?", "[1]", "<script>", "'", '"', "\\", "%s", "{}"]
SCRIPTS = ["日本語", "Ünïcödé", "🙂", "١٢٣", "Ω", "ﬁ", "A" * 50]
ALPHABET = [*CONTROL, *WORDS, *SCRIPTS]


def fuzzed_text(rng: random.Random, max_pieces: int = 12) -> str:
    pieces = [rng.choice(ALPHABET) for _ in range(rng.randint(0, max_pieces))]
    if rng.random() < 0.05:
        pieces.append("x" * rng.randint(1990, 2100))  # around the length limit
    return "".join(pieces)


def fuzzed_history(rng: random.Random) -> list[Turn]:
    roles = ["user", "assistant"]
    return [Turn(roles[i % 2], fuzzed_text(rng, 30)) for i in range(rng.randint(1, 4))]


def test_fuzzed_questions_and_histories_are_answered_or_refused_clearly(engine: Engine) -> None:
    rng = random.Random(20261202)
    answered = errors = 0
    for _ in range(200):
        question = fuzzed_text(rng)
        for history in ([], fuzzed_history(rng)):
            try:
                answer = engine.ask(question, history)
            except InvalidQuestionError as error:
                assert str(error)  # a message that says what to do
                errors += 1
                continue
            answered += 1
            # The answer survives the JSON contract, as `rag ask --json` and the server send it.
            json.dumps(answer.to_json(), ensure_ascii=False).encode("utf-8")
            documents = engine.data.documents
            assert all(documents[c.doc_id].text[c.start : c.end] == c.quote for c in answer.citations)
    assert answered > 100 and errors > 0  # both paths were exercised


def test_a_lone_surrogate_in_history_is_cleaned(engine: Engine) -> None:
    answer = engine.ask("Who said that?", [Turn("user", "\ud800"), Turn("assistant", "x")])
    json.dumps(answer.to_json(), ensure_ascii=False).encode("utf-8")
