"""The query side: an index on disk -> grounded answers with verified quotes.

Names are imported on first use (PEP 562), so `from rag.questions import MAX_K`
stays light: the `rag` command checks its input before loading torch and faiss.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = [
    "MAX_QUESTION_CHARS",
    "REFUSAL",
    "Answer",
    "AnswerSettings",
    "Citation",
    "Engine",
    "Generation",
    "Passage",
    "Turn",
    "clean_question",
]

_HOMES = {
    "MAX_QUESTION_CHARS": "rag.questions",
    "clean_question": "rag.questions",
    "REFUSAL": "rag.compose",
    "AnswerSettings": "rag.engine",
    "Engine": "rag.engine",
    "Answer": "rag.types",
    "Citation": "rag.types",
    "Generation": "rag.types",
    "Passage": "rag.types",
    "Turn": "rag.types",
}

if TYPE_CHECKING:
    from rag.compose import REFUSAL
    from rag.engine import AnswerSettings, Engine
    from rag.questions import MAX_QUESTION_CHARS, clean_question
    from rag.types import Answer, Citation, Generation, Passage, Turn


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'rag' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
