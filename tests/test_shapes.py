"""Answers that read the question (issue #13): summaries, comparisons, pronoun follow-ups, and refusing
what the texts don't say. Rules with small inputs, then each shape with the real model on the real corpus."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from index.text import normalize
from index.types import Chunk, Document
from rag.compose import ComposeSettings, choose_evidence
from rag.engine import Engine
from rag.evidence import Evidence, Sentence
from rag.followup import is_follow_up, prefer_new
from rag.retriever import ScoredChunk
from rag.shapes import (
    asks_for_contact,
    is_byline_or_bio,
    is_contact_line,
    is_heading,
    question_shape,
    summary_region,
    summary_topic,
)
from rag.signals import Vocabulary, question_names, read_signals, states_answer_type, states_time
from rag.types import Turn

HEINONEN, STOCKTON, SMIRNOVA = (
    "heinonen-least-bad-option",
    "stockton-russian-us-talks",
    "smirnova-sakhnin-peace-from-below",
)


@pytest.mark.parametrize(
    ("question", "shape"),
    [
        ("Summarize Stockton's article.", "summary"),
        ("What are Heinonen's main criticisms of the European response?", "summary"),
        ("What is the main argument of the piece?", "summary"),
        ("Give me a short overview of the report.", "summary"),
        ("What do the three articles say about sanctions?", "comparison"),
        ("Who was sent to Geneva?", "fact"),
        ("What are the points of the plan?", "fact"),
    ],
)
def test_question_shapes(question: str, shape: str) -> None:
    assert question_shape(question, set()) == shape


def test_two_named_documents_make_a_comparison() -> None:
    assert question_shape("How do Stockton and Heinonen treat the concessions?", {"a", "b"}) == "comparison"


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("What did Poland's government say about the plan?", ["poland"]),
        ("How did the G7 leaders react?", ["g7"]),
        ("Which treaties does he compare the Trump-Putin pact to?", ["trump", "putin"]),
        ("What does the 28-point plan say?", []),
        ("Who was sent to Geneva?", ["geneva"]),
    ],
)
def test_names_a_question_asks_about(question: str, names: list[str]) -> None:
    assert question_names(question) == names


def test_a_name_matches_the_words_made_from_it_but_not_a_sentence_opening() -> None:
    vocabulary = Vocabulary.of("Russian troops left. Political chaos followed in Finland.")
    assert vocabulary.mentions("russia") and vocabulary.mentions("finnish")
    assert not vocabulary.mentions("poland")  # "Political" opens a sentence: no name


def test_dates_and_times() -> None:
    assert states_time("It was signed on 12 March 2025.") and states_time("It ended in the 1990s.")
    assert not states_time("The plan was signed by both sides.")
    assert states_time("At the end of the season she walks again.", "time")
    assert not states_time("She uses a wheelchair.", "time")


def test_bylines_and_bios_are_not_summary_material() -> None:
    assert is_byline_or_bio("Noel Heinonen has a masters degree in social sciences.", ["heinonen"])
    assert is_byline_or_bio("He can be reached at someone@example.org", [])
    assert not is_byline_or_bio("The plan is the least bad option for Ukraine.", ["heinonen"])


def test_a_summary_narrowed_to_a_topic_keeps_the_topic_words_only() -> None:
    title = "Trump's 28-Point Plan as the Least Bad Option"
    piece = Document("d", "", title, "d.md", "md", "0", authors=("Noel Heinonen",))
    assert summary_topic("What are the main points of Heinonen's article?", [piece]) == set()
    assert summary_topic("Summarize the argument of 'Trump's 28-Point Plan as the Least Bad Option'", [piece]) == set()
    assert summary_topic("What are Heinonen's main criticisms and arguments?", [piece]) == set()
    assert summary_topic("Summarize Heinonen's case against NATO expansion.", [piece]) == {"nato", "expans"}


def test_a_heading_is_a_line_of_its_own_without_closing_punctuation() -> None:
    text = "Intro sentence here.\nWar as the Path of Deception\nThe war went on. Then it ended.\nWhy now?\n"
    heading = text.index("War")
    assert is_heading(text, heading, heading + len("War as the Path of Deception"))
    first = text.index("The war")
    assert not is_heading(text, first, first + len("The war went on."))  # a sentence, and not its line's end
    question = text.index("Why now?")
    assert not is_heading(text, question, question + len("Why now?"))  # a line of its own, but a sentence


def test_a_topic_summary_quotes_from_the_best_passages_of_each_document() -> None:
    chunks = [Chunk(f"c{i}", doc, i * 10, i * 10 + 9, "", ((i * 10, i * 10 + 9),)) for i, doc in enumerate("aaaab")]
    data = SimpleNamespace(chunks=chunks)
    ranked = [ScoredChunk(row, 1.0 - row / 10, 0.0, 0.0) for row in (3, 0, 4, 2, 1)]
    region = summary_region(data, ranked, {"a"}, chunks=2)
    assert region == {("a", 30, 39), ("a", 0, 9)}


def test_a_follow_up_prefers_a_new_sentence_only_when_it_is_support_enough_to_answer() -> None:
    quoted, new = _evidence("The dream died long ago.", 0.42), _evidence("A new point is made here.", 0.40)
    weak = _evidence("He holds a degree from a university.", 0.36)
    already = frozenset({normalize(quoted.sentence.text)})
    assert prefer_new([quoted, new], already, relative=0.8, floor=0.38)[0] is new
    assert prefer_new([quoted, weak], already, relative=0.8, floor=0.38)[0] is quoted  # else it would be refused
    assert prefer_new([quoted, weak], already, relative=0.8)[0] is weak


def test_a_pronoun_before_any_name_marks_a_follow_up() -> None:
    assert is_follow_up("Does he think Gorbachev's vision could still come true?")
    assert not is_follow_up("Does Heinonen think his plan could work?")


# -- the real model on the real corpus -----------------------------------------------------------


@pytest.mark.slow
def test_a_summary_quotes_the_named_document_in_document_order_without_its_bio(any_engine: Engine) -> None:
    answer = any_engine.ask("What are the main points of Heinonen's article?")
    assert not answer.refused and len(answer.citations) >= 3
    assert {c.doc_id for c in answer.citations} == {HEINONEN}
    starts = [c.start for c in answer.citations]
    assert starts == sorted(starts)
    assert not any("Heinonen" in c.quote or "@" in c.quote for c in answer.citations)


@pytest.mark.slow
def test_a_summary_of_a_topic_quotes_the_passages_on_it_and_no_heading(any_engine: Engine) -> None:
    document = any_engine.data.documents[HEINONEN].text
    topic = any_engine.ask("Summarize Heinonen's case against NATO expansion.")
    whole = any_engine.ask("What are the main points of Heinonen's article?")
    # The article reaches NATO's expansion in its second half; the whole-article summary starts in its first.
    assert all(c.start > len(document) / 2 for c in topic.citations), [c.start for c in topic.citations]
    assert whole.citations[0].start < len(document) / 2
    assert sum("NATO" in c.quote for c in topic.citations) >= 2
    essay = any_engine.ask("Summarize the argument of 'For a Peace From Below in Ukraine'.")
    assert essay.citations and not any(c.quote.strip() == "War as the Path of Deception" for c in essay.citations)


@pytest.mark.slow
def test_a_comparison_quotes_each_side_in_the_order_named(any_engine: Engine) -> None:
    answer = any_engine.ask("How do Stockton and Heinonen treat the territorial concessions in the plan?")
    assert [c.doc_id for c in answer.citations[:2]] == [STOCKTON, HEINONEN]
    three = any_engine.ask("What do the three articles say about sanctions on Russia?")
    assert len({c.doc_id for c in three.citations}) + three.answer.count("The documents don't say what") == 3


@pytest.mark.slow
def test_a_pronoun_follows_the_author_of_the_previous_turn(any_engine: Engine, request) -> None:
    if any_engine.scorer is not None:
        # Known gap (#13): with EmbeddingGemma the right sentence scores under its refusal
        # threshold (0.39) fitted on the dev split, so this yes/no follow-up is refused. Strict: a fix shows.
        request.applymarker(pytest.mark.xfail(strict=True, reason="EmbeddingGemma refuses this yes/no follow-up"))
    first = any_engine.ask("Summarize Heinonen's case against NATO expansion.")
    history = [Turn("user", first.question), Turn("assistant", first.answer)]
    follow_up = any_engine.ask("Does he think Gorbachev's vision could still come true?", history)
    assert not follow_up.refused and follow_up.citations[0].doc_id == HEINONEN
    assert "Gorbachev" in follow_up.citations[0].quote
    # The previous answer is not pasted into the search: a follow-up looks for something new.
    assert first.citations[0].quote not in follow_up.search_query


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "What did Poland's government say about the plan?",
        "On what date was the 28-point plan signed?",
        "What did Kremlin spokesman Dmitry Peskov say about the Berlin talks?",
    ],
)
def test_on_topic_questions_the_texts_do_not_answer_are_refused_with_passages(
    any_engine: Engine, question: str
) -> None:
    answer = any_engine.ask(question)
    assert answer.refused and answer.passages


@pytest.mark.slow
def test_names_in_answerable_questions_do_not_refuse_them(any_engine: Engine) -> None:
    for question in ("Who was dispatched to Geneva?", "What does Heinonen say about Finland joining NATO?"):
        assert not any_engine.ask(question).refused, question


def test_contact_lines_are_evidence_only_for_questions_asking_how_to_reach_someone() -> None:
    assert is_contact_line("He can be reached at someone@example.org") and is_contact_line("See https://x.org.")
    assert not is_contact_line("He met European leaders in Geneva on Sunday.")
    assert asks_for_contact("How can the author be reached?") and asks_for_contact("What is her email address?")
    assert not asks_for_contact("Does he think the vision could still come true?")


@pytest.mark.parametrize(
    ("question", "answer_type"),
    [
        ("How long has the war been going on?", "duration"),
        ("And for how long?", "duration"),
        ("How much military aid has the US sent since 2022?", "amount"),
        ("How much in frozen assets would the plan invest?", "amount"),
        ("How much does Stockton trust Putin?", None),  # a degree, not an amount
        ("On what date was it signed?", "date"),
        ("When did the talks start?", "time"),
        ("Who was sent to Geneva?", None),
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question: str, answer_type: str | None) -> None:
    assert read_signals(question, {}, []).answer_type == answer_type


def test_sentences_that_state_a_length_or_an_amount() -> None:
    assert states_answer_type("the almost four-year-old conflict", "duration")
    assert states_answer_type("a front line of 1,200 km", "duration") and states_answer_type("since 2014", "duration")
    assert not states_answer_type("its armed forces would be cut to 600,000 personnel", "duration")
    assert states_answer_type("investing $100 billion of frozen assets", "amount")
    assert states_answer_type("support fell to 30 percent", "amount")
    assert not states_answer_type("far greater than in 2014", "amount")  # a year is not an amount
    assert not states_answer_type("They argued since it was unclear.", "duration")  # a cause, not a start
    # A table row names its units in the header.
    assert states_answer_type("Bridge: Darnytskyi | Length (m): 1,066 | Opened: 2010", "duration")
    assert states_answer_type("Project: Dam | Cost (USD): 1,200", "amount")


def _evidence(text: str, support: float) -> Evidence:
    return Evidence(Sentence("doc", 0, len(text), text), support, support, support, 0.0, 0.0)


def test_a_typed_question_takes_the_best_sentence_that_states_its_type_or_is_refused() -> None:
    signals = read_signals("How long is the front line?", {}, [])
    settings = ComposeSettings(refuse_below=0.4)
    untyped = _evidence("The front line runs through the east of the country.", 0.7)
    typed = _evidence("The front line is about 1,200 km long.", 0.5)
    weak = _evidence("The front line is about 1,200 km long.", 0.3)
    assert choose_evidence([untyped, typed], settings, signals=signals) == ([typed], None)
    chosen, reason = choose_evidence([untyped, weak], settings, signals=signals)
    assert chosen == [] and "how long" in reason
    far = [untyped] * settings.type_window + [typed]  # beyond the window: not looked at
    assert choose_evidence(far, settings, signals=signals)[0] == []
    # A comparison keeps both sides or is refused: one typed sentence cannot stand for two documents.
    sides = dataclasses.replace(signals, named_docs=frozenset({"a", "b"}))
    assert choose_evidence([untyped, typed], settings, signals=sides)[0] == []


def _side(doc_id: str, support: float) -> list[Evidence]:
    text = f"What {doc_id} says on the topic of the question."
    return [Evidence(Sentence(doc_id, 0, len(text), text), support, support, support, 0.5, 0.5)]


def test_a_comparison_side_needs_less_once_another_side_answers() -> None:
    from rag.shapes import choose_sides

    sides = {"a": _side("a", 0.45), "b": _side("b", 0.37), "c": _side("c", 0.30)}
    chosen, uncovered = choose_sides(sides, refuse_below=0.39, margin=0.03)
    assert [e.sentence.doc_id for e in chosen] == ["a", "b"] and uncovered == ["c"]
    assert choose_sides(sides, refuse_below=0.39)[1] == ["b", "c"]  # no margin: only the clearing side
    # No side clears the threshold: the margin does not apply, and nothing is quoted.
    weak = {"a": _side("a", 0.37), "b": _side("b", 0.37)}
    assert choose_sides(weak, refuse_below=0.39, margin=0.03) == ([], ["a", "b"])


def test_a_sentence_that_carries_on_from_the_best_one_is_quoted_with_it() -> None:
    first_text = "Before the war, discontent was most common among the urban middle class."
    next_text = "Now it is concentrated among the poor and working class."
    other_text = "Desertions are growing across the country."

    def at(text: str, start: int, support: float) -> Evidence:
        return Evidence(Sentence("doc", start, start + len(text), text), support, support, support, 0.0, 0.0)

    best = at(first_text, 0, 0.7)
    follower = at(next_text, len(first_text) + 1, 0.2)  # weak alone: it says "it", not "discontent"
    other = at(other_text, 500, 0.65)
    settings = ComposeSettings(refuse_below=0.4)
    chosen, _ = choose_evidence([best, other, follower], settings)
    assert [e.sentence.text for e in chosen] == [first_text, next_text, other_text]
    # Not right after it (another paragraph), or not carrying on: no exception to the usual choice.
    far = at(next_text, len(first_text) + 3, 0.2)
    assert next_text not in [e.sentence.text for e in choose_evidence([best, other, far], settings)[0]]
    plain = at("It is concentrated among the poor.", len(first_text) + 1, 0.2)
    assert [e.sentence.text for e in choose_evidence([best, other, plain], settings)[0]] == [first_text, other_text]
