"""Metric definitions (docs/eval.md explains each one).

All comparisons of text go through `index.text.normalize` (NFKC, straight
quotes, single spaces), and are case-insensitive.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eval.dataset import EvalItem
from index.text import normalize
from index.types import Document
from rag.markers import MARKED_SENTENCE
from rag.types import Answer, Citation

__all__ = [
    "CitationPair",
    "answer_statements",
    "citation_pairs",
    "contains",
    "evidence_hits",
    "first_citation_correct",
    "keyword_hits",
    "percentile",
    "quote_valid",
    "reciprocal_rank",
    "token_f1",
]

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_MARKED_SENTENCE = MARKED_SENTENCE


def _norm(text: str) -> str:
    return normalize(text).lower()


def contains(haystack: str, needle: str) -> bool:
    return _norm(needle) in _norm(haystack)


def evidence_hits(texts: Sequence[str], spans: Sequence[str]) -> list[bool]:
    """For each gold span: is it inside one of `texts`?"""
    return [any(contains(text, span) for text in texts) for span in spans]


def first_citation_correct(answer: Answer, spans: Sequence[str]) -> bool:
    return bool(answer.citations) and any(contains(answer.citations[0].quote, s) for s in spans)


def keyword_hits(answer_text: str, keywords: Sequence[str]) -> list[bool]:
    return [contains(answer_text, k) for k in keywords]


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(_norm(text))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style bag-of-words F1."""
    predicted, gold = _tokens(prediction), _tokens(reference)
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def reciprocal_rank(texts: Sequence[str], spans: Sequence[str]) -> float:
    for rank, text in enumerate(texts, start=1):
        if any(contains(text, span) for span in spans):
            return 1.0 / rank
    return 0.0


def quote_valid(citation: Citation, documents: dict[str, Document]) -> bool:
    """Is the quote verbatim at its offsets in the document as loaded from disk?"""
    document = documents.get(citation.doc_id)
    return document is not None and document.text[citation.start : citation.end] == citation.quote


def answer_statements(answer: Answer) -> list[tuple[str, list[int]]]:
    """Split an answer into (statement, cited marker numbers) pairs."""
    statements = []
    for match in _MARKED_SENTENCE.finditer(answer.answer):
        markers = [int(n) for n in re.findall(r"\[(\d+)\]", match.group(2))]
        statements.append((match.group(1).strip(), markers))
    return statements


@dataclass(frozen=True)
class CitationPair:
    """One citation of one statement, labelled by the gold evidence."""

    statement: str
    n: int
    quote: str
    gold: bool  # the quote contains one of the item's gold evidence spans


def citation_pairs(item: EvalItem, answer: Answer) -> list[CitationPair]:
    """Every (statement, citation) pair of an answer to an answerable item with gold evidence."""
    spans = [e.text for e in item.evidence]
    if not item.answerable or not spans:
        return []
    by_number = {c.n: c for c in answer.citations}
    return [
        CitationPair(statement, n, by_number[n].quote, any(contains(by_number[n].quote, s) for s in spans))
        for statement, markers in answer_statements(answer)
        for n in markers
        if n in by_number
    ]


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else 0.0
