"""Questions and conversation turns as they arrive from people and programs, made safe to answer.

Light on purpose (no numpy, no models): the CLI checks a question with these
before it loads anything, and every interface shares the same limits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from index.errors import InvalidQuestionError
from rag.types import Turn

__all__ = [
    "MAX_HISTORY_TURNS",
    "MAX_K",
    "MAX_QUESTION_CHARS",
    "MAX_TURN_CHARS",
    "clamp_k",
    "clean_history",
    "clean_question",
]

MAX_QUESTION_CHARS = 2000
MAX_K = 50  # passages a question may ask for
MAX_TURN_CHARS = 20_000  # an earlier turn is cut to this many characters (follow-ups read only its start)
MAX_HISTORY_TURNS = 40  # only the latest turns matter to a follow-up
ROLES = ("user", "assistant")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _clean_text(text: str) -> str:
    # Undecodable bytes (a terminal's `\xff`, kept by Python as lone surrogates) become U+FFFD.
    return unicodedata.normalize("NFC", _CONTROL.sub(" ", _SURROGATE.sub("\ufffd", text))).strip()


def clean_question(question: object) -> str:
    """The question without control characters; raises InvalidQuestionError when unusable."""
    if not isinstance(question, str):
        raise InvalidQuestionError("the question must be text")
    text = _clean_text(question)
    if not text:
        raise InvalidQuestionError("the question is empty; type a question about the documents")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"the question is {len(text):,} characters long; ask it in at most {MAX_QUESTION_CHARS:,} characters"
        )
    if not any(ch.isalnum() for ch in text):
        raise InvalidQuestionError("the question has no words in it; type a question about the documents")
    return text


def clean_history(history: Sequence[object]) -> list[Turn]:
    """Earlier turns cleaned like a question (an empty turn is kept as empty, not refused).

    Raises InvalidQuestionError for a turn that is not a `Turn` with a user/assistant
    role and text content: a program passing the wrong shape is told what is expected.
    """
    turns: list[Turn] = []
    for turn in list(history)[-MAX_HISTORY_TURNS:]:
        if not isinstance(turn, Turn) or turn.role not in ROLES or not isinstance(turn.content, str):
            raise InvalidQuestionError('each history turn must be {"role": "user"|"assistant", "content": text}')
        turns.append(Turn(turn.role, _clean_text(turn.content[:MAX_TURN_CHARS])))
    return turns


def clamp_k(k: object) -> int:
    """Passages to retrieve, within 1..MAX_K (a program's out-of-range k is clamped, not refused)."""
    try:
        return max(1, min(int(k), MAX_K))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InvalidQuestionError(f"k must be a whole number from 1 to {MAX_K}") from None
