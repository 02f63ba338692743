"""Resolve a follow-up question against the conversation so retrieval keeps its topic.

No language model: a question is treated as a follow-up when it leans on the
conversation (it opens with "and"/"what about", or refers back with a pronoun
and has little content of its own). Its search query is then the question plus
the previous user question and, for "that/this/it" references, the previous
answer, so "Who said that?" searches near what was just quoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.text import STOPWORDS, normalize
from rag.markers import SPACED_MARKER
from rag.types import Turn

__all__ = ["is_follow_up", "search_query"]

_OPENERS = re.compile(r"^(and|but|also|so|then|what about|how about|and what|what else)\b", re.I)
_BACK_REFERENCES = frozenset(
    """he she it they him her them his hers its their theirs that this those these there then such same
    former latter""".split()
)
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_MARKER = SPACED_MARKER


def _content_words(text: str) -> list[str]:
    return [w for w in _WORDS.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


def is_follow_up(question: str) -> bool:
    text = normalize(question)
    if _OPENERS.match(text):
        return True
    words = _WORDS.findall(text.lower())
    refers_back = any(w in _BACK_REFERENCES for w in words)
    return refers_back and len(_content_words(text)) <= 3


def _last(history: Sequence[Turn], role: str) -> str:
    for turn in reversed(history):
        if turn.role == role and turn.content.strip():
            return turn.content
    return ""


def search_query(question: str, history: Sequence[Turn]) -> str:
    """The text to retrieve with: the question, widened by context for a follow-up."""
    if not history or not is_follow_up(question):
        return question
    parts = [question, _last(history, "user")]
    words = set(_WORDS.findall(question.lower()))
    if words & {"that", "this", "it", "said", "say", "says", "wrote", "claim", "quote"}:
        previous_answer = _MARKER.sub("", _last(history, "assistant"))
        parts.append(previous_answer[:600])
    return " ".join(p for p in parts if p)
