"""The query side with the real packaged model on the real default corpus."""

import pytest

from eval.dataset import DEFAULT_SET, load_set
from index.errors import InvalidQuestionError
from rag import REFUSAL, Turn

pytestmark = pytest.mark.slow


def assert_verbatim(answer, engine):
    for citation in answer.citations:
        document = engine.data.documents[citation.doc_id]
        assert document.text[citation.start : citation.end] == citation.quote


def test_answers_with_a_verbatim_numbered_citation(engine):
    answer = engine.ask("Who was dispatched to Geneva to negotiate with Zelensky?")
    assert not answer.refused
    assert "Marco Rubio" in answer.citations[0].quote
    assert answer.citations[0].doc_id == "stockton-russian-us-talks"
    assert "[1]" in answer.answer
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert_verbatim(answer, engine)
    assert set(answer.timings_ms) == {"retrieve", "select", "compose", "total"}


def test_retrieval_finds_the_passage_and_collapses_overlaps(engine):
    answer = engine.ask("What share of Russians say they are tired of the war?", k=5)
    assert any("57 percent" in p.text for p in answer.passages[:2])
    spans = [(p.doc_id, p.start, p.end) for p in answer.passages]
    for i, (doc, start, end) in enumerate(spans):
        for other_doc, other_start, other_end in spans[i + 1 :]:
            assert doc != other_doc or end <= other_start or other_end <= start


def test_document_filter_limits_the_sources(engine):
    answer = engine.ask("What does the plan say about NATO?", doc_ids=["heinonen-least-bad-option"])
    assert {p.doc_id for p in answer.passages} == {"heinonen-least-bad-option"}
    assert all(c.doc_id == "heinonen-least-bad-option" for c in answer.citations)
    with pytest.raises(InvalidQuestionError, match="unknown document"):
        engine.ask("anything", doc_ids=["no-such-doc"])


@pytest.mark.parametrize(
    "question",
    [
        "What is a good recipe for banana bread?",
        "Who won the 2022 football World Cup?",
        "How long is the front line in Ukraine?",
        "Has Russia captured Pokrovsk yet?",
    ],
)
def test_refuses_off_topic_and_on_topic_absent_questions(engine, question):
    answer = engine.ask(question)
    assert answer.refused and answer.answer == REFUSAL
    assert answer.citations == [] and answer.passages  # the closest passages are still shown


def test_a_figure_the_documents_never_mention_is_refused_however_close_the_words(engine):
    # "point 17" and "1994" are in no passage; the rest of each question matches the articles well.
    for question in ("What does point 17 of Trump's peace plan say?", "What did Ukraine give up in 1994?"):
        found = engine.find_evidence(question)
        assert found.evidence and found.evidence[0].support >= engine.settings.compose.refuse_below
        assert found.signals.unmatched_figures
        answer = engine.ask(question)
        assert answer.refused and answer.citations == [] and answer.passages
    # A figure that the passages do hold is no reason to refuse.
    answer = engine.ask("Under the 28-point plan, how many personnel would Ukraine's armed forces be cut to?")
    assert not answer.refused and "600,000" in answer.citations[0].quote


def test_a_comparison_quotes_both_named_articles(engine):
    answer = engine.ask("How do Stockton and Heinonen differ in their verdict on the 28-point plan?")
    assert {c.doc_id for c in answer.citations} >= {"stockton-russian-us-talks", "heinonen-least-bad-option"}


def test_who_said_that_follows_the_previous_answer(engine):
    first = engine.ask("What did the Russian diplomat say about the European contribution to the texts?")
    assert "Ushakov" in first.citations[0].quote
    history = [Turn("user", first.question), Turn("assistant", first.answer)]
    follow_up = engine.ask("Who said that?", history)
    assert not follow_up.refused and "Yuri Ushakov" in follow_up.answer


def test_follow_ups_retrieve_the_same_evidence_as_their_standalone_questions(engine):
    items = load_set(DEFAULT_SET)
    by_id = {item.id: item for item in items}
    pairs = [item for item in items if item.follows and item.standalone]
    assert len(pairs) >= 8
    same = 0
    for item in pairs:
        earlier = engine.ask(by_id[item.follows].question)
        history = [Turn("user", earlier.question), Turn("assistant", earlier.answer)]
        follow_up = engine.ask(item.question, history)
        standalone = engine.ask(item.standalone)
        if follow_up.citations and standalone.citations:
            same += follow_up.citations[0].start == standalone.citations[0].start
    # Measured 10/10 on the first ten pairs when written, 18/21 after the set grew to its pronoun
    # follow-ups (issue #13); a change that loses more than one of those fails.
    assert same >= len(pairs) - 4


@pytest.mark.parametrize("question", ["", "   \n\t ", "?!?...", "\x00\x01"])
def test_empty_or_wordless_questions_are_clear_errors(engine, question):
    with pytest.raises(InvalidQuestionError):
        engine.ask(question)


def test_a_100kb_question_gets_a_clear_message(engine):
    with pytest.raises(InvalidQuestionError, match="characters"):
        engine.ask("Geneva " * 15000)


@pytest.mark.parametrize(
    "question",
    [
        "Who was sent\x07 to Geneva?\x1b[31m",
        "¿Quién fue enviado a Ginebra para negociar?",
        "Кто поехал в Женеву?",
        "🙂 Geneva 🙂",
    ],
)
def test_odd_questions_get_an_answer_not_a_traceback(engine, question):
    answer = engine.ask(question)
    assert answer.answer
    assert_verbatim(answer, engine)


def _one_text_file_engine(tmp_path, embedder, name: str, text: str):
    """An engine over one .txt file (whose first line the loader takes as its title), real model."""
    from index.builder import build_index
    from rag.engine import Engine

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / name).write_text(text, encoding="utf-8")
    build_index([docs], tmp_path / "index", embedder)
    return Engine.open(tmp_path / "index", embedder=embedder, build_if_missing=False)


def test_a_documents_title_line_is_never_quoted_as_an_answer(tmp_path, embedder):
    # A .txt document's title is its first line; the body never answers the question.
    engine = _one_text_file_engine(
        tmp_path,
        embedder,
        "fractured.txt",
        "South Park: The Fractured but Whole\n\n"
        "South Park: The Fractured but Whole is a role-playing video game developed by Ubisoft San Francisco. "
        "It was released worldwide in October 2017 for several consoles.\n",
    )

    found = engine.find_evidence("south park the fractured but whole")
    quoted = [e.sentence.text for e in found.evidence]
    assert "South Park: The Fractured but Whole" not in quoted
    assert quoted and all(text.endswith(".") for text in quoted)
    assert any(p.text.startswith("South Park: The Fractured but Whole\n") for p in found.passages)


def test_a_first_line_that_is_a_sentence_stays_evidence(tmp_path, embedder):
    # The title is the first line, which here is the sentence that answers.
    engine = _one_text_file_engine(
        tmp_path,
        embedder,
        "quokka.txt",
        "The Quokka Institute was founded in 1987 in Perth.\n\n"
        "Its library holds tide charts. In 1993 the staff moved the institute to Fremantle.\n",
    )

    answer = engine.ask("When was the Quokka Institute founded?")
    assert not answer.refused
    assert answer.citations[0].quote == "The Quokka Institute was founded in 1987 in Perth."


def test_a_title_line_ending_in_a_question_mark_is_still_a_title(tmp_path, embedder):
    engine = _one_text_file_engine(
        tmp_path,
        embedder,
        "rabbit.txt",
        "Who Framed Roger Rabbit?\n\nThe film was released by Touchstone Pictures in June 1988.\n",
    )
    quoted = [e.sentence.text for e in engine.find_evidence("who framed roger rabbit").evidence]
    assert quoted == ["The film was released by Touchstone Pictures in June 1988."]


def test_a_how_many_question_the_passages_give_no_number_for_is_refused(engine):
    # On topic ("civilians", "full-scale invasion", "Ukraine" all match), but no passage counts the dead.
    question = "How many civilians have been killed in Ukraine since the full-scale invasion began?"
    found = engine.find_evidence(question)
    assert found.signals.asks_quantity and found.evidence[0].support >= engine.settings.compose.refuse_below
    answer = engine.ask(question)
    assert answer.refused and answer.citations == [] and answer.passages
    # A count the passages do state is answered.
    answer = engine.ask("How many reservists does Ukraine have, according to Stockton?")
    assert not answer.refused and "400,000" in answer.answer
