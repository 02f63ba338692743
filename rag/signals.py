"""What a question itself tells about the answer it needs, read once per question.

    signals = read_signals(question, document_names, evidence)
    signals.named_docs        # documents the question names by author or title
    signals.unmatched_figures # figures it pins ("point 17", "in 1994") that no candidate sentence holds
    signals.asks_quantity     # "how many ...?": an answer must state a number

These travel as one value from evidence scoring to the choice of sentences
(`rag.compose.choose_evidence`), where they decide comparisons and refusals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from index.store import IndexData
from index.text import asks_for_quantity, numbers, tokenize
from rag.evidence import Evidence

__all__ = ["QuestionSignals", "document_name_words", "named_documents", "read_signals"]


@dataclass(frozen=True)
class QuestionSignals:
    named_docs: frozenset[str] = frozenset()
    unmatched_figures: frozenset[str] = frozenset()
    asks_quantity: bool = False


def document_name_words(data: IndexData) -> dict[str, set[str]]:
    """Each document's title and author words (as tokenized), which name it in a question."""
    return {doc.id: set(tokenize(" ".join([doc.title, *doc.authors]))) for doc in data.documents.values()}


def named_documents(question: str, names: Mapping[str, set[str]]) -> frozenset[str]:
    """Documents whose author or title words (not words shared by several documents) appear in the question."""
    words = set(tokenize(question))
    counts: dict[str, int] = {}
    for tokens in names.values():
        for token in tokens:
            counts[token] = counts.get(token, 0) + 1
    return frozenset(doc_id for doc_id, tokens in names.items() if any(counts[t] == 1 and t in words for t in tokens))


def read_signals(question: str, names: Mapping[str, set[str]], evidence: Sequence[Evidence]) -> QuestionSignals:
    """The question's signals, given the candidate evidence sentences found for it.

    `question` is the question as asked, not the search text: a follow-up's search
    text carries the earlier turn, whose figures and names this question did not pin.
    """
    # A figure the question pins that no candidate sentence holds: the passages are about something
    # else, however close their words (docs/calibration.md). Single digits are left out: they are
    # often spelled out ("3 little birds" / "Three Little Birds") or only number the question itself
    # ("2 facts about ...", "(5 points)").
    pinned = {figure for figure in numbers(question) if sum(ch.isdigit() for ch in figure) >= 2}
    candidate_figures = set().union(*(numbers(e.sentence.text) for e in evidence)) if evidence else set()
    return QuestionSignals(
        named_docs=named_documents(question, names),
        unmatched_figures=frozenset(pinned - candidate_figures),
        asks_quantity=asks_for_quantity(question),
    )
