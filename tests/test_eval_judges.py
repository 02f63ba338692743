"""Citation precision in the manner of ALCE, and judges' agreement with the gold evidence: fakes only."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from eval.dataset import EvalItem, Evidence, select_items
from eval.judge import CachedJudge
from eval.metrics import citation_pairs
from eval.runner import ItemResult, citation_support, evaluate_item, judge_citations, judge_report, summarize
from rag.types import Answer, Citation


class WordJudge:
    """Supported when every word of the statement is in the quotes taken together."""

    name = "every word"

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def supports(self, statement: str, quotes: Sequence[str]) -> bool:
        self.asked.append((statement, tuple(quotes)))
        return bool(quotes) and set(re.findall(r"\w+", statement)) <= set(re.findall(r"\w+", " ".join(quotes)))


class AlwaysYes:
    name = "always yes"

    def supports(self, statement: str, quotes: Sequence[str]) -> bool:
        return bool(quotes)


@pytest.mark.parametrize(
    ("statement", "quotes", "supported", "precise"),
    [
        ("rubio geneva", ["rubio went to geneva"], True, [True]),  # single citation that supports
        ("rubio geneva", ["rubio went home"], False, [False]),  # single citation that does not
        ("rubio geneva", ["rubio left", "to geneva"], True, [True, True]),  # two halves, jointly
        ("rubio geneva", ["rubio geneva talks", "polls"], True, [True, False]),  # one redundant citation
        ("rubio geneva zelensky", ["rubio left", "to geneva"], False, [False, False]),  # joint failure
        ("rubio geneva", ["rubio left", "to geneva", "polls"], True, [True, True, False]),
        ("rubio geneva", ["rubio geneva", "rubio in geneva"], True, [True, True]),  # each alone supports
        ("rubio geneva", [], False, []),
    ],
)
def test_citation_support_follows_alce(statement, quotes, supported, precise):
    assert citation_support(statement, quotes, WordJudge()) == (supported, precise)


def _answer(text: str, quotes: Sequence[str], refused: bool = False) -> Answer:
    citations = [Citation(n, "doc", "Doc", q, 0, len(q), None, 0.5) for n, q in enumerate(quotes, start=1)]
    return Answer(
        "q?", text, refused, citations, [], {stage: 1.0 for stage in ("retrieve", "select", "compose", "total")}
    )


def _item(item_id: str = "a", spans: Sequence[str] = ("rubio went to geneva",), answerable: bool = True) -> EvalItem:
    return EvalItem(
        id=item_id,
        question="Who went to Geneva?",
        category="factual" if answerable else "unanswerable_off_topic",
        answerable=answerable,
        evidence=tuple(Evidence("doc", s) for s in spans),
        keywords=("rubio",) if answerable else (),
        reference="Rubio went to Geneva.",
    )


def test_answer_level_counts_and_precision_in_the_summary():
    answer = _answer("rubio geneva. [1][2] rubio left. [3]", ["rubio left", "to geneva", "rubio left early"])
    assert judge_citations(answer, WordJudge()) == (2, 2, 3, 3)
    redundant = _answer("rubio geneva. [1][2]", ["rubio geneva talks", "polls"])
    result = evaluate_item(_item(), redundant, {}, WordJudge())
    assert (result.statements, result.statements_supported, result.citations, result.citations_precise) == (1, 1, 2, 1)
    summary = summarize([result])
    assert summary["citation_recall"] == 1.0 and summary["citation_precision"] == 0.5


def test_citation_pairs_are_labelled_by_the_gold_evidence():
    answer = _answer("Rubio went to Geneva. [1] Polls say so. [2][1]", ["Marco Rubio went to Geneva.", "Polls."])
    pairs = citation_pairs(_item(), answer)
    assert [(p.statement, p.n, p.gold) for p in pairs] == [
        ("Rubio went to Geneva.", 1, True),
        ("Polls say so.", 2, False),
        ("Polls say so.", 1, True),
    ]
    assert citation_pairs(_item(answerable=False, spans=()), answer) == []


def _result(item: EvalItem, answer: Answer) -> ItemResult:
    return evaluate_item(item, answer, {}, WordJudge())


def test_judge_report_agreement_yes_rate_and_gold_rate():
    results = [
        # gold and supported: agree
        _result(_item("a"), _answer("rubio went to geneva. [1]", ["rubio went to geneva"])),
        # not gold, but the judge says supported: disagree
        _result(_item("b"), _answer("polls say. [1]", ["polls say so"])),
        # not gold and not supported: agree
        _result(_item("c"), _answer("rubio won. [1]", ["zelensky spoke"])),
        # unanswerable items are not counted
        _result(_item("d", (), answerable=False), _answer("polls. [1]", ["polls"])),
    ]
    report = judge_report(results, WordJudge())
    assert report["pairs"] == 3
    assert report["agreement"] == pytest.approx(2 / 3)
    assert report["yes_rate"] == pytest.approx(2 / 3)
    assert report["gold_rate"] == pytest.approx(1 / 3)
    assert report["citation_recall"] == pytest.approx(3 / 4) and report["citation_precision"] == pytest.approx(3 / 4)
    always = judge_report(results, AlwaysYes())
    assert always["agreement"] == pytest.approx(1 / 3) and always["yes_rate"] == 1.0


def test_cached_judge_asks_each_question_once():
    inner = WordJudge()
    judge = CachedJudge(inner)
    assert judge.name == inner.name
    assert judge.supports("a b", ["a", "b"]) and judge.supports("a b", ["a", "b"])
    assert not judge.supports("a b", ["a"])
    assert inner.asked == [("a b", ("a", "b")), ("a b", ("a",))]


def test_select_items_takes_every_nth_and_keeps_first_turns():
    items = [EvalItem(id=str(i), question="q", category="factual", answerable=True) for i in range(6)]
    items[4] = EvalItem(id="4", question="and?", category="followup", answerable=True, follows="1")
    assert [i.id for i in select_items(items, stride=2)] == ["0", "1", "2", "4"]
    assert [i.id for i in select_items(items, limit=2, stride=2)] == ["0", "2"]
    assert [i.id for i in select_items(items)] == [str(i) for i in range(6)]
