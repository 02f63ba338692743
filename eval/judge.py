"""Does a quote support a statement? The citation judges of the eval.

No entailment model can be shipped offline here, so the default judge is a
documented lexical + semantic score: a statement is supported by a quote when
the quote contains at least 80% of the statement's content words (stemmed), or
when the MiniLM cosine between them is at least 0.75. When a local language
model is loaded (`rag eval --generator local`), `rag.entailment.LlmJudge` asks it
too, as a yes/no entailment judge. Reports name the judge used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from index.text import tokenize

__all__ = ["CachedJudge", "Judge", "SupportJudge"]


class Judge(Protocol):
    """Decides whether quotes, taken together, support a statement."""

    name: str

    def supports(self, statement: str, quotes: Sequence[str]) -> bool: ...


class SupportJudge:
    name = "lexical+semantic: content-word recall >= 0.80 or MiniLM cosine >= 0.75"

    def __init__(
        self,
        embed: Callable[[Sequence[str]], np.ndarray],
        min_word_recall: float = 0.8,
        min_cosine: float = 0.75,
    ) -> None:
        self._embed = embed
        self.min_word_recall = min_word_recall
        self.min_cosine = min_cosine

    def word_recall(self, statement: str, evidence: str) -> float:
        words = set(tokenize(statement))
        if not words:
            return 1.0
        return len(words & set(tokenize(evidence))) / len(words)

    def supports(self, statement: str, quotes: Sequence[str]) -> bool:
        if not quotes:
            return False
        evidence = " ".join(quotes)
        if self.word_recall(statement, evidence) >= self.min_word_recall:
            return True
        vectors = self._embed([statement, evidence])
        return float(vectors[0] @ vectors[1]) >= self.min_cosine


class CachedJudge:
    """A judge that asks each (statement, quotes) question once: the same pair recurs
    in citation recall, precision and agreement, and a model judge is slow."""

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self.name = judge.name
        self._verdicts: dict[tuple[str, tuple[str, ...]], bool] = {}

    def supports(self, statement: str, quotes: Sequence[str]) -> bool:
        key = (statement, tuple(quotes))
        if key not in self._verdicts:
            self._verdicts[key] = self.judge.supports(statement, quotes)
        return self._verdicts[key]
