"""The query side's data types: retrieved passages, citations, answers.

`Answer.to_json()` is the `rag ask --json` contract: field names are fixed and
only ever extended.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Answer", "Citation", "Passage", "Turn"]


@dataclass(frozen=True)
class Turn:
    """One message of a conversation: role is "user" or "assistant"."""

    role: str
    content: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores (fused is what ranks it)."""

    doc_id: str
    chunk_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    dense: float
    lexical: float
    page: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "doc_id": self.doc_id,
            "chunk_id": self.chunk_id,
            "title": self.title,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Citation:
    """A verbatim quote: invariant `document.text[start:end] == quote`."""

    n: int
    doc_id: str
    title: str
    quote: str
    start: int
    end: int
    page: int | None
    score: float

    def to_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "doc_id": self.doc_id,
            "title": self.title,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "page": self.page,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    passages: list[Passage]
    timings_ms: dict[str, float]
    id: object = None
    # How strongly the best evidence supports an answer (what refusal compares).
    support: float = 0.0
    # The text used for retrieval (differs from `question` for a follow-up).
    search_query: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_json() for c in self.citations],
            "passages": [p.to_json() for p in self.passages],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "support": round(self.support, 4),
            "search_query": self.search_query,
            # Extensions only when present: an LLM answer's generator, removed sentences, fallback.
            **({"generation": dict(self.extra)} if self.extra else {}),
        }
