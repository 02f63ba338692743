"""From found evidence to an `Answer`: the one place both answer paths build it.

`Engine.find_evidence` returns a `FoundEvidence` (passages, scored sentences,
the question's signals); the extractive path (`extractive_answer`) and the
language-model path (`rag.generated`) each decide the answer's text and
citations, and `finish_answer` turns that into the `Answer` every interface
shows, refusal text and timings included.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from index.store import IndexData
from index.types import Document
from rag.compose import BELOW_THRESHOLD, REFUSAL, ComposeSettings, blocking_reason, choose_evidence, compose
from rag.evidence import Evidence
from rag.shapes import choose_sides
from rag.signals import QuestionSignals
from rag.types import Answer, Citation, Generation, Passage

__all__ = ["FoundEvidence", "Stopwatch", "extractive_answer", "finish_answer"]


@dataclass(frozen=True)
class FoundEvidence:
    """Everything retrieval and evidence scoring found for one question (no answer yet)."""

    data: IndexData
    question: str  # as cleaned by `rag.questions.clean_question`
    query: str  # what was searched (the question, or it resolved against the conversation)
    passages: list[Passage]
    evidence: list[Evidence]  # best first
    similarity: np.ndarray | None  # cosine between the first evidence sentences (redundancy)
    signals: QuestionSignals
    retrieve_seconds: float
    shape: str = "fact"  # rag.shapes.question_shape
    sides: Mapping[str, list[Evidence]] = field(default_factory=dict)  # a comparison's evidence per document
    summary: list[Evidence] = field(default_factory=list)  # a summary's sentences, in document order
    scorer: str = ""  # the model that scored the evidence sentences

    @property
    def support(self) -> float:
        """The best sentence's score: what the refusal threshold compares."""
        return self.evidence[0].support if self.evidence else 0.0

    def choose(self, settings: ComposeSettings) -> tuple[list[Evidence], str | None]:
        """The evidence sentences an answer quotes, or none and why.

        A summary quotes its representative sentences, a comparison the best sentence of each side
        that has one (`rag.shapes`); a fact question its best evidence (`rag.compose.choose_evidence`).
        """
        blocked = blocking_reason(self.signals)
        if blocked:
            return [], blocked
        if self.shape == "summary" and self.summary:
            return list(self.summary), None
        if self.shape == "comparison" and len(self.sides) >= 2:
            chosen, _ = choose_sides(self.sides, settings.refuse_below, settings.side_margin)
            return (chosen, None) if chosen else ([], BELOW_THRESHOLD)
        return choose_evidence(self.evidence, settings, self.similarity, self.signals)

    def uncovered_sides(self, settings: ComposeSettings) -> list[str]:
        """A comparison's documents with nothing on the question's topic (empty for other shapes)."""
        if self.shape != "comparison" or len(self.sides) < 2:
            return []
        chosen, uncovered = choose_sides(self.sides, settings.refuse_below, settings.side_margin)
        return uncovered if chosen else []


@dataclass
class Stopwatch:
    """Milliseconds per answering stage, in the order the stages ran, plus the total."""

    started: float
    laps: dict[str, float] = field(default_factory=dict)
    _last: float = 0.0

    def __post_init__(self) -> None:
        self._last = self.started

    def lap(self, stage: str, at: float | None = None) -> None:
        """Close `stage` now (or at `at`, a `time.perf_counter()` reading)."""
        now = time.perf_counter() if at is None else at
        self.laps[stage] = (now - self._last) * 1000
        self._last = now

    def timings(self) -> dict[str, float]:
        return {**self.laps, "total": (time.perf_counter() - self.started) * 1000}


def finish_answer(
    found: FoundEvidence,
    text: str,
    citations: Sequence[Citation],
    clock: Stopwatch,
    *,
    id: object = None,
    generation: Generation | None = None,
    weak_below: float = 0.0,
) -> Answer:
    """The Answer for `text` with its `citations`; no citation means a refusal, with the passages kept.

    An answer whose best evidence scores below `weak_below` is marked `low_support`.
    """
    refused = not citations
    return Answer(
        question=found.question,
        answer=REFUSAL if refused else text,
        refused=refused,
        citations=[] if refused else list(citations),
        passages=found.passages,
        timings_ms=clock.timings(),
        id=id,
        support=found.support,
        search_query=found.query,
        generation=generation,
        low_support=not refused and found.support < weak_below,
        scorer=found.scorer,
    )


def _not_covered(document: Document) -> str:
    """The sentence a comparison adds for a side the documents don't cover (it quotes nothing)."""
    if document.authors:
        verb = "think" if len(document.authors) > 1 else "thinks"
        return f"The documents don't say what {' and '.join(document.authors)} {verb} about this."
    return f"The documents don't say what “{document.title}” says about this."


def extractive_answer(found: FoundEvidence, settings: ComposeSettings, clock: Stopwatch, id: object = None) -> Answer:
    """The chosen evidence sentences themselves, each with its verified quote; or the refusal."""
    chosen, _ = found.choose(settings)
    clock.lap("select")
    text, citations = compose(chosen, found.data.documents)
    if citations:
        text = " ".join([text, *(_not_covered(found.data.documents[d]) for d in found.uncovered_sides(settings))])
    clock.lap("compose")
    return finish_answer(found, text, citations, clock, id=id, weak_below=settings.weak_below)
