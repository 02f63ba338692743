"""Compose an extractive answer from evidence sentences, and verify every quote.

The answer is the chosen evidence sentences themselves, each followed by its
`[n]` marker. Each citation's quote is cut from the document by offsets and
checked against the document text once more before the answer leaves: a quote
that does not match is dropped with its sentence, never shown.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from index.text import mentions_quantity
from index.types import Document
from rag.evidence import Evidence
from rag.types import Citation

__all__ = [
    "BELOW_THRESHOLD",
    "NO_NUMBER",
    "REFUSAL",
    "ComposeSettings",
    "choose_evidence",
    "compose",
    "verify_citation",
]

REFUSAL = "The documents don't answer this question."
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ComposeSettings:
    refuse_below: float = 0.389  # minimum score of the best sentence (eval.calibrate)
    relative: float = 0.8  # further sentences need this share of the best score (docs/benchmarks.md, ClapNQ)
    max_sentences: int = 3
    redundancy: float = 0.9  # skip a sentence this similar to one already chosen


BELOW_THRESHOLD = "evidence below the refusal threshold"
NO_NUMBER = "the question asks how many, and no chosen sentence states a number"


def choose_evidence(
    ranked: Sequence[Evidence],
    settings: ComposeSettings,
    similarity: np.ndarray | None = None,
    named_docs: Collection[str] = (),
    unmatched_numbers: Collection[str] = (),
    needs_quantity: bool = False,
) -> tuple[list[Evidence], str | None]:
    """The best sentence, plus others nearly as good and not redundant with it; or, for a
    refusal, no sentence and the reason (None when something was chosen).

    When the question names two or more documents ("How do Stockton and
    Heinonen differ ..."), the best sentence of each named document is taken,
    so a comparison quotes both sides. Nothing is chosen (a refusal) when the
    question pins a figure that no candidate sentence contains
    (`unmatched_numbers`: "point 17", "in 1994"), when the best score is below
    the threshold, or when it asks how many (`needs_quantity`) and no chosen
    sentence states a number.
    """
    if unmatched_numbers:
        return [], f"the question's {', '.join(sorted(unmatched_numbers))} is in no passage"
    if not ranked or ranked[0].support < settings.refuse_below:
        return [], BELOW_THRESHOLD
    chosen = _choose(ranked, settings, similarity, named_docs)
    if needs_quantity and not any(mentions_quantity(e.sentence.text) for e in chosen):
        return [], NO_NUMBER
    return chosen, None


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
    best = ranked[0].score
    for i in range(1, len(ranked)):
        if len(chosen) == settings.max_sentences:
            break
        candidate = ranked[i]
        if candidate.score < settings.relative * best or candidate.support < settings.refuse_below:
            break
        if redundant(i, chosen):
            continue
        chosen.append(i)
    return [ranked[i] for i in chosen]


def verify_citation(citation: Citation, documents: Mapping[str, Document]) -> bool:
    document = documents.get(citation.doc_id)
    return (
        document is not None
        and 0 <= citation.start < citation.end <= len(document.text)
        and document.text[citation.start : citation.end] == citation.quote
    )


def compose(evidence: Sequence[Evidence], documents: Mapping[str, Document]) -> tuple[str, list[Citation]]:
    """Answer text with `[n]` markers and its verified citations (numbered by first use)."""
    citations: list[Citation] = []
    parts: list[str] = []
    for item in evidence:
        sentence = item.sentence
        document = documents[sentence.doc_id]
        citation = Citation(
            n=len(citations) + 1,
            doc_id=sentence.doc_id,
            title=document.title,
            quote=document.text[sentence.start : sentence.end],
            start=sentence.start,
            end=sentence.end,
            page=document.page_at(sentence.start),
            score=item.score,
        )
        if not verify_citation(citation, documents):
            continue
        citations.append(citation)
        parts.append(f"{_SPACES.sub(' ', citation.quote).strip()} [{citation.n}]")
    return " ".join(parts), citations
