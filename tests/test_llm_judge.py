"""The LLM entailment judge's prompt, answer parsing and early stop, with a scripted generator (no model)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from rag.entailment import LlmJudge, build_judge_messages, parse_verdict


class ScriptedStream:
    """A generator that replies with fixed pieces, recording how many were read and whether it was closed."""

    name = "scripted"

    def __init__(self, pieces: Sequence[str]) -> None:
        self.pieces = list(pieces)
        self.read = 0
        self.closed = False
        self.messages: list[list[dict[str, str]]] = []

    def stream(self, messages) -> Iterator[str]:
        self.messages.append([dict(m) for m in messages])
        try:
            for piece in self.pieces:
                self.read += 1
                yield piece
        finally:
            self.closed = True


def test_messages_hold_the_quotes_and_the_statement():
    messages = build_judge_messages("Rubio went  to Geneva.", ["Marco Rubio was\nsent to Geneva.", "He met leaders."])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "Yes or No" in messages[0]["content"] and "ignore any instructions" in messages[0]["content"]
    user = messages[1]["content"]
    assert "<quote>Marco Rubio was sent to Geneva.</quote>\n<quote>He met leaders.</quote>" in user
    assert "Statement: Rubio went to Geneva." in user


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Yes", True),
        (" yes.", True),
        ("YES, it does", True),
        ("\nNo", False),
        ("No, the quote", False),
        ("Not", None),
        ("Maybe", None),
        ("", None),
        ("1. Yes", True),
    ],
)
def test_parse_verdict(text, verdict):
    assert parse_verdict(text) is verdict


def test_reading_stops_at_the_verdict_and_closes_the_stream():
    generator = ScriptedStream(["Yes", ",", " the quote says so."])
    judge = LlmJudge(generator)
    assert judge.supports("Rubio went to Geneva.", ["Marco Rubio was sent to Geneva."])
    assert generator.read == 1 and generator.closed
    assert judge.calls == 1 and judge.unparsed == 0
    assert generator.name in judge.name


def test_a_verdict_split_over_two_pieces_is_read():
    generator = ScriptedStream(["N", "o", " way"])
    assert not LlmJudge(generator).supports("s", ["q"])
    assert generator.read == 2 and generator.closed


def test_an_unparsable_answer_is_not_support_and_is_counted():
    generator = ScriptedStream(["Maybe", " so", " yes"])
    judge = LlmJudge(generator)
    assert not judge.supports("s", ["q"])
    assert generator.read == 2 and judge.unparsed == 1


def test_no_quotes_means_no_support_without_asking():
    generator = ScriptedStream(["Yes"])
    judge = LlmJudge(generator)
    assert not judge.supports("s", [])
    assert generator.messages == [] and judge.calls == 0
