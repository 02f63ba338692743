"""A "how many" question must be answered with a number, or refused (fast, no model)."""

from __future__ import annotations

import pytest

from index.text import asks_for_quantity, mentions_quantity
from rag.compose import NO_NUMBER, ComposeSettings, choose_evidence
from rag.evidence import Evidence, Sentence
from rag.signals import QuestionSignals

QuantityQuestion = QuestionSignals(asks_quantity=True)


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("How many reservists does Ukraine have?", True),
        ("And how many did the plan cost?", True),
        ("How much does Stockton trust Putin?", False),  # "how much" often asks for a degree
        ("HOW  MANY troops?", True),
        ("How long has the war lasted?", False),  # a duration may be "since the Cold War"
        ("Who was sent to Geneva?", False),
        ("Is there much support for the plan?", False),
    ],
)
def test_asks_for_quantity(question: str, asks: bool) -> None:
    assert asks_for_quantity(question) is asks


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("Russia maintains a force of 1.3 million.", True),
        ("Twice as many people favor immediate peace talks.", True),
        ("Russian diplomacy advances two sets of demands.", True),
        ("It is an almost four-year-old conflict.", True),
        ("The full-scale invasion bound the fate of Putin's rule to its success.", False),
        ("Someone mentioned the network.", False),  # "one" inside a word is no number
    ],
)
def test_mentions_quantity(text: str, mentions: bool) -> None:
    assert mentions_quantity(text) is mentions


def _evidence(text: str, score: float) -> Evidence:
    return Evidence(Sentence("doc", 0, len(text), text), score, score, score, 0.5, 1.0)


def test_a_quantity_question_without_a_number_in_the_chosen_sentences_is_refused() -> None:
    settings = ComposeSettings(refuse_below=0.4)
    wordy = [_evidence("The invasion bound the fate of Putin's rule to its success.", 0.6)]
    assert choose_evidence(wordy, settings) == (wordy, None)  # any other question: answered
    assert choose_evidence(wordy, settings, signals=QuantityQuestion) == ([], NO_NUMBER)

    counted = [wordy[0], _evidence("Desertions are growing: 18,500 convictions were issued.", 0.55)]
    chosen, _ = choose_evidence(counted, settings, signals=QuantityQuestion)
    assert chosen == counted  # one of the chosen sentences states the number: answered
