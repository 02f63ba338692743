"""The query side: an index on disk -> grounded answers with verified quotes."""

from rag.compose import REFUSAL
from rag.engine import MAX_QUESTION_CHARS, AnswerSettings, Engine, clean_question
from rag.types import Answer, Citation, Passage, Turn

__all__ = [
    "MAX_QUESTION_CHARS",
    "REFUSAL",
    "Answer",
    "AnswerSettings",
    "Citation",
    "Engine",
    "Passage",
    "Turn",
    "clean_question",
]
