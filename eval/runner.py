"""Run an eval set through the engine and compute per-question and overall metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from eval.dataset import EvalItem
from eval.judge import Judge, SupportJudge
from eval.metrics import (
    answer_statements,
    citation_pairs,
    evidence_hits,
    first_citation_correct,
    keyword_hits,
    percentile,
    quote_valid,
    reciprocal_rank,
    token_f1,
)
from index.types import Document
from rag.engine import Engine
from rag.types import Answer, Turn

__all__ = [
    "Ask",
    "ItemResult",
    "citation_support",
    "evaluate_item",
    "history_for",
    "judge_citations",
    "judge_report",
    "run_set",
    "summarize",
]

# How a run asks one question: (question, history, item id) -> answer.
Ask = Callable[[str, Sequence[Turn], str], Answer]

STAGES = ("retrieve", "select", "compose", "total")


@dataclass(frozen=True)
class ItemResult:
    item: EvalItem
    answer: Answer
    first_citation_correct: bool
    evidence_recall: float
    reciprocal_rank: float
    keywords_found: float  # share of keywords in the answer
    token_f1: float
    statements: int
    statements_supported: int
    citations: int
    citations_precise: int  # in the manner of ALCE (`citation_support`)
    quotes_valid: int

    @property
    def correct(self) -> bool:
        """The per-category accuracy notion: refused when it should, else first citation right."""
        if not self.item.answerable:
            return self.answer.refused
        return not self.answer.refused and self.first_citation_correct

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.item.id,
            "category": self.item.category,
            "answerable": self.item.answerable,
            "question": self.item.question,
            "answer": self.answer.answer,
            "refused": self.answer.refused,
            "support": round(self.answer.support, 4),
            "correct": self.correct,
            "first_citation_correct": self.first_citation_correct,
            "evidence_recall": self.evidence_recall,
            "reciprocal_rank": self.reciprocal_rank,
            "keywords_found": self.keywords_found,
            "token_f1": round(self.token_f1, 4),
            "citations": [c.to_json() for c in self.answer.citations],
            "timings_ms": self.answer.timings_ms,
        }


def citation_support(statement: str, quotes: Sequence[str], judge: Judge) -> tuple[bool, list[bool]]:
    """(do the quotes jointly support the statement, is each citation precise), as in ALCE.

    A single citation is precise when it supports the statement. With several,
    none is precise when they do not jointly support it; when they do, a
    citation is imprecise only when it does not support the statement alone
    and the other citations still support it without it (it adds nothing).
    """
    if not quotes:
        return False, []
    supported = judge.supports(statement, quotes)
    if not supported:
        return False, [False] * len(quotes)
    if len(quotes) == 1:
        return True, [True]
    precise = []
    for index, quote in enumerate(quotes):
        rest = [q for i, q in enumerate(quotes) if i != index]
        precise.append(judge.supports(statement, [quote]) or not judge.supports(statement, rest))
    return True, precise


def judge_citations(answer: Answer, judge: Judge) -> tuple[int, int, int, int]:
    """(statements, statements supported, citations, precise citations) of one answer."""
    by_number = {c.n: c for c in answer.citations}
    statements = answer_statements(answer)
    supported = cited = precise = 0
    for statement, markers in statements:
        quotes = [by_number[n].quote for n in markers if n in by_number]
        joint, flags = citation_support(statement, quotes, judge)
        supported += joint
        cited += len(flags)
        precise += sum(flags)
    return len(statements), supported, cited, precise


def evaluate_item(
    item: EvalItem,
    answer: Answer,
    documents: dict[str, Document],
    judge: Judge,
) -> ItemResult:
    spans = [e.text for e in item.evidence]
    passages = [p.text for p in answer.passages]
    hits = evidence_hits(passages, spans)
    # Multi-sentence and comparison items need every span; the others any one.
    recall = (sum(hits) / len(hits) if hits else 0.0) if item.needs_all_evidence else float(any(hits))
    keywords = keyword_hits(answer.answer, item.keywords) if not answer.refused else [False] * len(item.keywords)
    statements, supported, cited, precise = judge_citations(answer, judge)
    return ItemResult(
        item=item,
        answer=answer,
        first_citation_correct=first_citation_correct(answer, spans) if spans else False,
        evidence_recall=recall if spans else 0.0,
        reciprocal_rank=reciprocal_rank(passages, spans) if spans else 0.0,
        keywords_found=sum(keywords) / len(keywords) if keywords else 0.0,
        token_f1=token_f1(answer.answer, item.reference) if item.answerable and not answer.refused else 0.0,
        statements=statements,
        statements_supported=supported,
        citations=cited,
        citations_precise=precise,
        quotes_valid=sum(quote_valid(c, documents) for c in answer.citations),
    )


def run_set(
    engine: Engine,
    items: Sequence[EvalItem],
    documents: dict[str, Document],
    *,
    k: int = 5,
    on_item: Callable[[ItemResult], None] | None = None,
    ask: Ask | None = None,
    judge: Judge | None = None,
) -> list[ItemResult]:
    """Ask every item; a follow-up gets the real earlier turn (question and answer) as history.

    `ask` answers one question (default: the extractive `engine.ask`); `judge`
    decides citation support (default: the lexical+semantic `SupportJudge`).
    """
    judge = judge or SupportJudge(engine.embedder.embed)

    def extractive(question: str, history: Sequence[Turn], item_id: str) -> Answer:
        return engine.ask(question, history, k=k, id=item_id)

    ask = ask or extractive
    answers: dict[str, str] = {}  # item id -> the answer text given (a follow-up's history)
    by_id = {item.id: item for item in items}
    results = []
    for item in items:
        answer = ask(item.question, history_for(item, by_id, answers), item.id)
        answers[item.id] = answer.answer
        result = evaluate_item(item, answer, documents, judge)
        results.append(result)
        if on_item:
            on_item(result)
    return results


def history_for(item: EvalItem, by_id: Mapping[str, EvalItem], answers: Mapping[str, str]) -> list[Turn]:
    """A follow-up's conversation so far: the earlier question and the answer actually given to it."""
    if not item.follows or item.follows not in answers:
        return []
    return [Turn("user", by_id[item.follows].question), Turn("assistant", answers[item.follows])]


def _share(values: Sequence[bool | float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def summarize(results: Sequence[ItemResult]) -> dict[str, object]:
    answerable = [r for r in results if r.item.answerable]
    unanswerable = [r for r in results if not r.item.answerable]
    answered = [r for r in answerable if not r.answer.refused]
    statements = sum(r.statements for r in results)
    citations = sum(r.citations for r in results)
    all_citations = sum(len(r.answer.citations) for r in results)
    categories: dict[str, list[ItemResult]] = {}
    for r in results:
        categories.setdefault(r.item.category, []).append(r)
    return {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "evidence_recall_at_k": _share([r.evidence_recall for r in answerable]),
        "mrr": _share([r.reciprocal_rank for r in answerable]),
        "first_citation_evidence": _share([r.first_citation_correct for r in answerable]),
        "keyword_accuracy": _share([r.keywords_found == 1.0 for r in answerable]),
        "keyword_recall": _share([r.keywords_found for r in answerable]),
        "token_f1": _share([r.token_f1 for r in answered]),
        "citation_recall": sum(r.statements_supported for r in results) / statements if statements else 0.0,
        "citation_precision": sum(r.citations_precise for r in results) / citations if citations else 0.0,
        "quote_validity": sum(r.quotes_valid for r in results) / all_citations if all_citations else 1.0,
        "refusal_rate": _share([r.answer.refused for r in unanswerable]),
        "false_refusal_rate": _share([r.answer.refused for r in answerable]),
        "per_category": {name: _share([r.correct for r in rs]) for name, rs in sorted(categories.items())},
        "latency_ms": {
            stage: {
                "p50": round(percentile([r.answer.timings_ms[stage] for r in results], 50), 2),
                "p95": round(percentile([r.answer.timings_ms[stage] for r in results], 95), 2),
            }
            for stage in STAGES
        },
    }


def judge_report(results: Sequence[ItemResult], judge: Judge) -> dict[str, float | int]:
    """Citation recall/precision by `judge`, and how often it agrees with the gold evidence.

    For every (statement, citation) pair of an answerable item, the gold label
    is whether the cited quote contains one of the item's gold evidence spans
    (`eval.metrics.citation_pairs`); the judge's verdict is whether that quote
    alone supports the statement. `agreement` is the share of pairs where the
    two match, `yes_rate` the share the judge calls supported, `gold_rate` the
    share that are gold evidence.
    """
    counts = [judge_citations(r.answer, judge) for r in results]
    statements, supported = sum(c[0] for c in counts), sum(c[1] for c in counts)
    cited, precise = sum(c[2] for c in counts), sum(c[3] for c in counts)
    pairs = [pair for r in results for pair in citation_pairs(r.item, r.answer)]
    verdicts = [judge.supports(pair.statement, [pair.quote]) for pair in pairs]
    return {
        "citation_recall": supported / statements if statements else 0.0,
        "citation_precision": precise / cited if cited else 0.0,
        "pairs": len(pairs),
        "agreement": _share([v == pair.gold for v, pair in zip(verdicts, pairs, strict=True)]),
        "yes_rate": _share(verdicts),
        "gold_rate": _share([pair.gold for pair in pairs]),
    }
