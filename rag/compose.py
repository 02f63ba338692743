"""Compose an extractive answer from evidence sentences, and verify every quote.

The answer is the chosen evidence sentences themselves, each followed by its
`[n]` marker. Each citation's quote is cut from the document by offsets and
checked against the document text once more before the answer leaves: a quote
that does not match is dropped with its sentence, never shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from index.text import mentions_quantity
from index.types import Document
from rag.evidence import Evidence
from rag.signals import QuestionSignals, states_answer_type
from rag.types import Citation

__all__ = [
    "BELOW_THRESHOLD",
    "NO_NUMBER",
    "NO_TIME",
    "REFUSAL",
    "ComposeSettings",
    "blocking_reason",
    "choose_evidence",
    "cite",
    "compose",
    "verify_citation",
]

REFUSAL = "The documents don't answer this question."
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ComposeSettings:
    refuse_below: float = 0.389  # minimum score of the best sentence (eval.calibrate)
    # An answer whose best evidence scores below this is shown as weakly supported: on the dev split 4 of
    # the 14 answers below it were right, against 28 of 30 above 0.6 (docs/calibration.md).
    weak_below: float = 0.45
    relative: float = 0.8  # further sentences need this share of the best score (docs/benchmarks.md, ClapNQ)
    max_sentences: int = 3
    redundancy: float = 0.9  # skip a sentence this similar to one already chosen
    # When the chosen sentences lack the kind of answer the question asks for (a number, a date, a length),
    # the best of this many candidates that states it and clears the threshold answers instead (dev split).
    type_window: int = 5
    # A comparison side is quoted with evidence this far under `refuse_below` when another side clears it:
    # the question is answerable, and the side's own document is being asked what it says on the topic
    # (picked on the dev split; 0.02 to 0.05 gave the same answers there).
    side_margin: float = 0.03


BELOW_THRESHOLD = "evidence below the refusal threshold"
NO_NUMBER = "the question asks how many, and no chosen sentence states a number"
NO_TIME = "the question asks when, and no chosen sentence states a time"
MISSING_ANSWER_TYPE = {
    "date": NO_TIME,
    "time": NO_TIME,
    "duration": "the question asks how long, and no chosen sentence states a length of time or distance",
    "amount": "the question asks how much, and no chosen sentence states an amount",
}


def choose_evidence(
    ranked: Sequence[Evidence],
    settings: ComposeSettings,
    similarity: np.ndarray | None = None,
    signals: QuestionSignals | None = None,
) -> tuple[list[Evidence], str | None]:
    """The best sentence, plus others nearly as good and not redundant with it; or, for a
    refusal, no sentence and the reason (None when something was chosen).

    When the question names two or more documents ("How do Stockton and
    Heinonen differ ..."), the best sentence of each named document is taken,
    so a comparison quotes both sides. Nothing is chosen (a refusal) when the
    question pins a figure that no candidate sentence contains ("point 17",
    "in 1994"), when the best score is below the threshold, or when it asks for a
    kind of answer (how many, when, how long, how much: `rag.signals`) that no
    chosen sentence states and no candidate among the first `type_window` that
    clears the threshold states either (that candidate answers instead).
    """
    signals = signals or QuestionSignals()
    blocked = blocking_reason(signals)
    if blocked:
        return [], blocked
    if not ranked or ranked[0].support < settings.refuse_below:
        return [], BELOW_THRESHOLD
    chosen = _choose(ranked, settings, similarity, signals.named_docs)
    checks = _answer_checks(signals)
    failed = [reason for states, reason in checks if not any(states(e.sentence.text) for e in chosen)]
    if failed:
        # The question asks for a kind of answer (a number, a date, a length) that the chosen sentences do not
        # state: the best sentence further down that states every kind asked and clears the threshold answers
        # instead. A comparison keeps its sides or is refused: one sentence cannot stand for both.
        typed = next(
            (
                e
                for e in ranked[: settings.type_window]
                if e.support >= settings.refuse_below and all(states(e.sentence.text) for states, _ in checks)
            ),
            None,
        )
        if typed is None or len(signals.named_docs) >= 2:
            return [], failed[0]
        chosen = [typed]
    return chosen, None


def _answer_checks(signals: QuestionSignals) -> list[tuple[Callable[[str], bool], str]]:
    """What the chosen sentences must state for this question (a number, a time, a length, an amount),
    each with the refusal reason when none does."""
    checks: list[tuple[Callable[[str], bool], str]] = []
    if signals.asks_quantity:
        checks.append((mentions_quantity, NO_NUMBER))
    answer_type = signals.answer_type
    if answer_type:
        checks.append((lambda text: states_answer_type(text, answer_type), MISSING_ANSWER_TYPE[answer_type]))
    return checks


def blocking_reason(signals: QuestionSignals) -> str | None:
    """Why the question cannot be answered from these passages whatever they say, or None:
    it pins a figure ("point 17", "in 1994") or names something ("Poland") that they never mention."""
    if signals.unmatched_figures:
        return f"the question's {', '.join(sorted(signals.unmatched_figures))} is in no passage"
    if signals.unmatched_names:
        return f"no passage that could answer mentions {', '.join(sorted(signals.unmatched_names))}"
    return None


def _choose(
    ranked: Sequence[Evidence],
    settings: ComposeSettings,
    similarity: np.ndarray | None,
    named_docs: Collection[str],
) -> list[Evidence]:
    """The sentences to quote once the support threshold and the figure rule have passed."""

    def redundant(i: int, chosen: list[int]) -> bool:
        if similarity is None or i >= len(similarity):
            return False
        return any(j < len(similarity) and similarity[i, j] >= settings.redundancy for j in chosen)

    if len(named_docs) >= 2:
        chosen_by_doc: dict[str, int] = {}
        for i, candidate in enumerate(ranked):
            doc_id = candidate.sentence.doc_id
            if doc_id in named_docs and doc_id not in chosen_by_doc:
                chosen_by_doc[doc_id] = i
        picked = sorted(chosen_by_doc.values())[: settings.max_sentences]
        if len(picked) >= 2:
            return [ranked[i] for i in picked]

    chosen = [0]
    follower = _continuation(ranked)
    if follower is not None and settings.max_sentences > 1:
        chosen.append(follower)
    best = ranked[0].score
    for i in range(1, len(ranked)):
        if len(chosen) == settings.max_sentences:
            break
        candidate = ranked[i]
        if candidate.score < settings.relative * best or candidate.support < settings.refuse_below:
            break
        if i in chosen or redundant(i, chosen):
            continue
        chosen.append(i)
    return [ranked[i] for i in chosen]


# A sentence that carries on from the one before it ("Before the war, discontent was most common among the
# urban middle class. Now it is concentrated among the poor ..."): the two make one statement. English, as
# the shape rules are.
_CARRIES_ON = re.compile(
    r"^(?:now|meanwhile|moreover|furthermore|in addition|additionally|also|second(?:ly)?|third(?:ly)?|"
    r"then|today|instead|in other words|that is|likewise|similarly)\b",
    re.IGNORECASE,
)


def _continuation(ranked: Sequence[Evidence]) -> int | None:
    """The candidate right after the best sentence in its paragraph, when it carries on from it (above)."""
    first = ranked[0].sentence
    for i, candidate in enumerate(ranked[1:], start=1):
        sentence = candidate.sentence
        if sentence.doc_id == first.doc_id and 0 <= sentence.start - first.end <= 1:
            return i if _CARRIES_ON.match(sentence.text) else None
    return None


def verify_citation(citation: Citation, documents: Mapping[str, Document]) -> bool:
    """Does the quote still read exactly so in its document at its offsets? (the offsets invariant)"""
    document = documents.get(citation.doc_id)
    return (
        document is not None
        and 0 <= citation.start < citation.end <= len(document.text)
        and document.text[citation.start : citation.end] == citation.quote
    )


def cite(
    n: int, doc_id: str, start: int, end: int, score: float, documents: Mapping[str, Document], quote: str | None = None
) -> Citation | None:
    """Citation `[n]` of `documents[doc_id].text[start:end]`, or None when it fails `verify_citation`.

    The one place a Citation is made: the quote is cut from the document by offsets unless
    given (a quote carried from elsewhere, say an earlier read of the index), and checked
    against the document text either way, so a quote that does not match is never shown.
    """
    document = documents.get(doc_id)
    if document is None:
        return None
    citation = Citation(
        n=n,
        doc_id=doc_id,
        title=document.title,
        quote=document.text[start:end] if quote is None else quote,
        start=start,
        end=end,
        page=document.page_at(start),
        score=score,
        ocr=document.from_ocr(start, end),
    )
    return citation if verify_citation(citation, documents) else None


def compose(evidence: Sequence[Evidence], documents: Mapping[str, Document]) -> tuple[str, list[Citation]]:
    """Answer text with `[n]` markers and its verified citations (numbered by first use).

    Each sentence's quote is taken as the evidence read it (`Sentence.text`) and checked
    against the documents: when they changed since (a stale index), the sentence is dropped.
    """
    citations: list[Citation] = []
    parts: list[str] = []
    for item in evidence:
        sentence = item.sentence
        citation = cite(
            len(citations) + 1, sentence.doc_id, sentence.start, sentence.end, item.score, documents, sentence.text
        )
        if citation is None:
            continue
        citations.append(citation)
        parts.append(f"{_SPACES.sub(' ', citation.quote).strip()} [{citation.n}]")
    return " ".join(parts), citations
