"""Pick the evidence sentences for a question from the retrieved chunks.

Each candidate sentence gets four signals, all in [0, 1]:

- semantic: cosine between the question and the sentence embeddings;
- coverage: share of the question's words (IDF-weighted, stemmed) that the
  sentence contains; words naming the document's title or authors count as
  covered by every sentence of that document ("What does Stockton say ...");
- context: the best semantic score of its neighbours, so a sentence that only
  makes sense with the one before it ("He added that ...") is not lost;
- passage: the fused retrieval score of the best chunk holding it, relative to the
  best chunk for the question in any document (a document filter does not raise it).

The weighted mean of the four is the sentence's `score`, which both ranks the
sentences and, for the best one, is the `support` that the refusal threshold
compares. Weights and threshold were calibrated on the eval set with
`python -m eval.calibrate` (docs/calibration.md has the numbers). Short lines
(headings, bylines) are scaled down by `brevity`: they are rarely an answer.
A line that is the document's own title is no candidate at all: a title names
a topic and asserts nothing, yet it shares the most words with any question on
that topic (on ClapNQ it was the first quote of 90 of the 250 unanswerable
questions that were answered; docs/benchmarks.md). A title line that ends with
a period is kept: a plain-text file's title is its first line, which may well be
the sentence that answers.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.store import IndexData
from index.text import normalize, tokenize
from rag.retriever import ScoredChunk

__all__ = [
    "DocumentFrequencies",
    "Evidence",
    "EvidenceSettings",
    "Sentence",
    "candidate_sentences",
    "is_title_line",
    "score_sentences",
]


@dataclass(frozen=True)
class EvidenceSettings:
    w_semantic: float = 1.0
    w_coverage: float = 0.5
    w_context: float = 0.1
    w_passage: float = 0.1
    min_words: int = 5  # shorter lines (headings, bylines) are weak evidence

    def combine(self, semantic: float, coverage: float, context: float, passage: float) -> float:
        """The weighted mean of the four signals, in [0, 1]."""
        total = self.w_semantic + self.w_coverage + self.w_context + self.w_passage
        return (
            self.w_semantic * semantic
            + self.w_coverage * coverage
            + self.w_context * context
            + self.w_passage * passage
        ) / total


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Evidence:
    sentence: Sentence
    score: float
    support: float
    semantic: float
    coverage: float
    passage: float
    context: float = 0.0
    brevity: float = 1.0


class DocumentFrequencies:
    """IDF over the index's chunks, computed once per loaded index."""

    def __init__(self, texts: Sequence[str]) -> None:
        counts: dict[str, int] = {}
        for text in texts:
            for token in set(tokenize(text)):
                counts[token] = counts.get(token, 0) + 1
        self._counts = counts
        self._total = max(1, len(texts))

    def idf(self, token: str) -> float:
        # Unknown words get the highest weight: a question about something the
        # collection never mentions should not look covered.
        df = self._counts.get(token, 0)
        return math.log(1 + (self._total - df + 0.5) / (df + 0.5))


def _coverage(question_tokens: dict[str, float], sentence_tokens: set[str]) -> float:
    total = sum(question_tokens.values())
    if total == 0:
        return 0.0
    return sum(w for t, w in question_tokens.items() if t in sentence_tokens) / total


def candidate_sentences(data: IndexData, ranked: Sequence[ScoredChunk]) -> list[tuple[Sentence, float]]:
    """Distinct sentences of the ranked chunks, each with its best chunk's relative score."""
    best: dict[tuple[str, int, int], float] = {}
    order: list[tuple[str, int, int]] = []
    for hit in ranked:
        chunk = data.chunks[hit.row]
        for start, end in chunk.sentences:
            key = (chunk.doc_id, start, end)
            if key not in best:
                order.append(key)
                best[key] = hit.relative
    documents = data.documents
    candidates = []
    for doc_id, start, end in order:
        text = documents[doc_id].text[start:end]
        if not is_title_line(text, documents[doc_id].title):
            candidates.append((Sentence(doc_id, start, end, text), best[(doc_id, start, end)]))
    return candidates


def is_title_line(text: str, title: str) -> bool:
    """Whether a line is its document's own title, which names a topic and asserts nothing (see above)."""
    return _comparable(text) == _comparable(title) and not _SENTENCE_END.search(text)


# A line ending with a period asserts something even when it is the document's first line, which a
# plain-text file's title is taken from ("The institute was founded in 1987."): it stays evidence.
_SENTENCE_END = re.compile(r"\.[\"'\u201d\u2019)\]]*\s*$")  # titles may end in "?" or "!"; rarely in "."


def _comparable(line: str) -> str:
    """A line as compared with a title: Markdown heading marks, case and spacing ignored."""
    return normalize(line).lstrip("#").strip().casefold()


def score_sentences(
    question: str,
    question_vector: np.ndarray,
    candidates: Sequence[tuple[Sentence, float]],
    embed_sentences: Callable[[Sequence[Sentence]], np.ndarray],
    frequencies: DocumentFrequencies,
    document_names: Callable[[str], set[str]],
    settings: EvidenceSettings | None = None,
) -> list[Evidence]:
    """Score every candidate sentence; best first."""
    settings = settings or EvidenceSettings()
    if not candidates:
        return []
    sentences = [s for s, _ in candidates]
    vectors = embed_sentences(sentences)
    semantic = np.clip(vectors @ question_vector, 0.0, 1.0)
    weights = {t: frequencies.idf(t) for t in tokenize(question)}
    # Neighbours: the previous and next sentence of the same document among the candidates.
    ordered = sorted(range(len(sentences)), key=lambda i: (sentences[i].doc_id, sentences[i].start))
    neighbours: dict[int, list[int]] = {i: [] for i in range(len(sentences))}
    for a, b in itertools.pairwise(ordered):
        if sentences[a].doc_id == sentences[b].doc_id:
            neighbours[a].append(b)
            neighbours[b].append(a)

    scored: list[Evidence] = []
    for i, (sentence, passage_score) in enumerate(candidates):
        names = document_names(sentence.doc_id)
        coverage = _coverage(weights, set(tokenize(sentence.text)) | names)
        context = max((float(semantic[j]) for j in neighbours[i]), default=0.0)
        words = len(sentence.text.split())
        brevity = min(1.0, words / settings.min_words)
        sem = float(semantic[i]) * brevity
        score = settings.combine(sem, coverage * brevity, context, passage_score)
        scored.append(Evidence(sentence, score, score, sem, coverage, passage_score, context, brevity))
    scored.sort(key=lambda e: -e.score)
    return scored
