"""The query side's data types: retrieved passages, citations, answers.

`Answer.to_json()` is the `rag ask --json` contract: field names are fixed and
only ever extended.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

__all__ = [
    "GENERATOR_KINDS",
    "Answer",
    "Citation",
    "Generation",
    "Passage",
    "RemovedSentence",
    "Turn",
    "answer_from_json",
]

_T = TypeVar("_T")

# How an answer is written: quotes only, or drafted by a local or an OpenAI-compatible model and verified
# (`rag.generators.make_generator` builds the model ones).
GENERATOR_KINDS = ("extractive", "local", "openai")


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
    # The quote's text was recognised by OCR in an image, so it may hold recognition errors.
    ocr: bool = False

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
            "ocr": self.ocr,
        }


@dataclass(frozen=True)
class RemovedSentence:
    """A sentence a language model wrote that verification removed, and why."""

    text: str
    reason: str
    support: float

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "reason": self.reason, "support": round(self.support, 4)}


@dataclass(frozen=True)
class Generation:
    """What a language model did for an answer (`rag.generated`); None on an extractive answer.

    `skipped` says why the model was not called (the extractive rules refused);
    `fallback` is "extractive" when nothing the model wrote was supported and the
    quotes-only answer was returned instead.
    """

    generator: str
    raw_answer: str = ""
    removed: tuple[RemovedSentence, ...] = ()
    corrected_citations: int = 0
    prompt_passages: int = 0
    entailment_judge: str | None = None
    model_refused: bool = False
    fallback: str | None = None
    skipped: str | None = None

    def to_json(self) -> dict[str, object]:
        """The `generation` object of `rag ask --json` (keys as they always were; optional ones only when set)."""
        data: dict[str, object] = {
            "generator": self.generator,
            "removed_sentences": [r.to_json() for r in self.removed],
            "raw_answer": self.raw_answer,
        }
        if self.skipped is not None:
            data["skipped"] = self.skipped
            return data
        data["corrected_citations"] = self.corrected_citations
        data["prompt_passages"] = self.prompt_passages
        if self.entailment_judge is not None:
            data["entailment_judge"] = self.entailment_judge
        if self.model_refused:
            data["model_refused"] = True
        if self.fallback is not None:
            data["fallback"] = self.fallback
        return data


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
    generation: Generation | None = None  # set when a language model wrote (or was asked for) the answer
    # Answered, but its best evidence only just cleared the refusal threshold: interfaces say so in words.
    low_support: bool = False
    scorer: str = ""  # the model that scored the evidence (MiniLM, or EmbeddingGemma with --scorer)

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
            "low_support": self.low_support,
            **({"scorer": self.scorer} if self.scorer else {}),
            # Extensions only when present: an LLM answer's generator, removed sentences, fallback.
            **({"generation": self.generation.to_json()} if self.generation else {}),
        }


def answer_from_json(data: dict) -> Answer:
    """The `Answer` whose `to_json()` gave `data`.

    Everything the chat shows and exports comes back exactly (text, citations
    with offsets and page, refusal, support, the model's record). Fields are
    matched by name, so a field added to the JSON contract later comes back too;
    a passage's separate dense and lexical scores are not in the JSON and come
    back as 0.
    """
    citations = [_by_name(Citation, c) for c in data.get("citations", [])]
    passages = [_by_name(Passage, p, dense=0.0, lexical=0.0) for p in data.get("passages", [])]
    generation = _generation(data["generation"]) if data.get("generation") else None
    plain = {k: v for k, v in data.items() if k not in ("citations", "passages", "generation")}
    return _by_name(Answer, plain, citations=citations, passages=passages, generation=generation)


def _by_name(kind: type[_T], data: dict, **given: object) -> _T:
    """`kind(...)` from the keys of `data` that are fields of `kind`, over the `given` values."""
    names = {f.name for f in fields(kind)}
    return kind(**{**{k: v for k, v in data.items() if k in names}, **given})


def _generation(data: dict) -> Generation:
    removed = tuple(
        RemovedSentence(str(r["text"]), str(r["reason"]), float(r.get("support", 0.0)))
        for r in data.get("removed_sentences", [])
    )
    return Generation(
        generator=str(data.get("generator", "")),
        raw_answer=str(data.get("raw_answer", "")),
        removed=removed,
        corrected_citations=int(data.get("corrected_citations", 0)),
        prompt_passages=int(data.get("prompt_passages", 0)),
        entailment_judge=data.get("entailment_judge"),
        model_refused=bool(data.get("model_refused", False)),
        fallback=data.get("fallback"),
        skipped=data.get("skipped"),
    )
