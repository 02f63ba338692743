"""A quote that does not read so in its document at its offsets is dropped, never shown (issue #11).

`rag.compose.verify_citation` is the last check before an answer leaves. These tests feed it what it
exists for: a wrong offset, a document whose text changed, and a stale index (the documents changed after
the evidence was scored), through the extractive path (`rag.compose.compose`, `Engine.ask`) and the LLM
path (`rag.verify.verify_generated`, `answer_with_generator` with a scripted generator). Each one fails
when `verify_citation` is made to accept everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from index.sentences import split_sentences
from index.types import Document
from rag.compose import compose, verify_citation
from rag.engine import Engine
from rag.evidence import Evidence, Sentence
from rag.generated import answer_with_generator
from rag.prompting import Prompt, PromptItem, build_prompt
from rag.verify import verify_generated
from tests.fakes import PEACE, TALKS, CountingEmbedder, two_document_engine

QUESTION = "Who was dispatched to Geneva?"
RUBIO = "Marco Rubio has been dispatched to Geneva to negotiate with President Zelensky."


def _document(doc_id: str, text: str) -> Document:
    return Document(doc_id, text, text.split("\n")[0], f"{doc_id}.txt", "txt", doc_id)


def _documents(talks: str = TALKS) -> dict[str, Document]:
    return {"talks": _document("talks", talks), "peace": _document("peace", PEACE)}


def _span(text: str, opening: str) -> tuple[int, int]:
    return next((s, e) for s, e in split_sentences(text) if text[s:e].startswith(opening))


def _evidence(documents: dict[str, Document], doc_id: str, opening: str, shift: int = 0) -> Evidence:
    """Evidence for the sentence starting with `opening`, as read now, its offsets moved by `shift`."""
    text = documents[doc_id].text
    start, end = _span(text, opening)
    return Evidence(Sentence(doc_id, start + shift, end + shift, text[start:end]), 0.9, 0.9, 0.9, 0.9, 0.9)


def _edited(text: str, opening: str, edit: Callable[[str], str]) -> str:
    """`text` with the sentence starting with `opening` edited (same length: other offsets stay right)."""
    start, end = _span(text, opening)
    changed = edit(text[start:end])
    assert len(changed) == end - start and changed != text[start:end]
    return text[:start] + changed + text[end:]


def assert_all_verbatim(citations, documents) -> None:
    for citation in citations:
        assert verify_citation(citation, documents)
        assert documents[citation.doc_id].text[citation.start : citation.end] == citation.quote


# -- the extractive path ---------------------------------------------------------------


def test_compose_drops_a_quote_at_a_wrong_offset():
    documents = _documents()
    good = _evidence(documents, "peace", "Opinion")
    wrong = _evidence(documents, "talks", "Consequently", shift=3)
    text, citations = compose([wrong, good], documents)
    assert [c.doc_id for c in citations] == ["peace"] and citations[0].n == 1
    assert "Rubio" not in text and text.endswith("[1]")


def test_compose_drops_a_quote_whose_document_changed():
    scored = _documents()
    evidence = [_evidence(scored, "talks", "Consequently"), _evidence(scored, "peace", "Opinion")]
    changed = _documents(_edited(TALKS, "Consequently", str.upper))
    text, citations = compose(evidence, changed)
    assert [c.doc_id for c in citations] == ["peace"]
    assert "Rubio" not in text and "RUBIO" not in text


@pytest.fixture
def small_engine(tmp_path: Path) -> Engine:
    return two_document_engine(tmp_path)


def _change_document(engine: Engine, doc_id: str, text: str) -> None:
    """The documents change under an index whose chunks (and their sentence offsets) are older."""
    engine.data.documents[doc_id] = replace(engine.data.documents[doc_id], text=text)


def test_a_stale_index_never_shows_a_quote_past_the_end_of_its_shortened_document(small_engine):
    before = small_engine.ask(QUESTION)
    assert any("Rubio" in c.quote for c in before.citations)
    # The document lost its last characters: the index's offsets for the Geneva sentence now run past its end.
    cut = TALKS.index("Zelensky.") + len("Zelensky")
    _change_document(small_engine, "talks", TALKS[:cut])
    after = small_engine.ask(QUESTION)
    assert_all_verbatim(after.citations, small_engine.data.documents)
    assert not any(c.end > cut for c in after.citations if c.doc_id == "talks")


# -- the LLM path -----------------------------------------------------------------------


def test_verification_drops_a_quote_the_prompt_showed_at_a_wrong_offset():
    documents = _documents()
    start, end = _span(TALKS, "Consequently")
    # Passage [1] says it is TALKS[start-2:end-2] but shows the sentence itself: offsets and text disagree.
    item = PromptItem(1, Sentence("talks", start, end, TALKS[start:end]), "talks", start - 2, end - 2, TALKS[start:end])
    prompt = Prompt([], [item], QUESTION)
    result = verify_generated(f"{RUBIO} [1]", prompt, [], documents, CountingEmbedder().embed)
    assert result.citations == [] and result.answer == ""
    assert [r.reason for r in result.removed] == ["quote failed verification"]


def test_verification_drops_a_quote_whose_document_changed_after_the_prompt():
    scored = _documents()
    evidence = [_evidence(scored, "talks", "Consequently"), _evidence(scored, "peace", "Opinion")]
    prompt = build_prompt(QUESTION, [], evidence, scored)
    changed = _documents(_edited(TALKS, "Consequently", str.upper))
    result = verify_generated(f"{RUBIO} [1]", prompt, evidence, changed, CountingEmbedder().embed)
    assert result.citations == [] and "Rubio" not in result.answer
    assert [r.reason for r in result.removed] == ["quote failed verification"]

    # The same draft against the documents the prompt was built from keeps its quote.
    kept = verify_generated(f"{RUBIO} [1]", prompt, evidence, scored, CountingEmbedder().embed)
    assert [c.doc_id for c in kept.citations] == ["talks"]


class EditingGenerator:
    """Writes `reply`; while it "generates", the documents change under the engine (a re-index)."""

    name = "editing"

    def __init__(self, engine: Engine, reply: str, edit: Callable[[], None]) -> None:
        self.engine = engine
        self.reply = reply
        self.edit = edit

    def stream(self, messages) -> Iterator[str]:
        self.edit()
        yield self.reply


OPENING = "Ukraine would be obliged"
TROOPS = "Ukraine would be obliged to slash its armed forces to 600,000 personnel."


def _answer_while_the_document_changes(engine: Engine, reply: str):
    # The troops sentence changes (case only, so the support score is the same) between the evidence
    # being scored and the draft being verified.
    edited = _edited(TALKS, OPENING, str.upper)
    generator = EditingGenerator(engine, reply, lambda: _change_document(engine, "talks", edited))
    return answer_with_generator(engine, "How large would the armed forces of Ukraine be?", [], generator)


def test_a_document_changed_while_the_model_writes_is_not_quoted_by_the_draft(small_engine):
    supported = "Washington issued an ultimatum to Kyiv, demanding that it accept Russian conditions."
    answer = _answer_while_the_document_changes(small_engine, f"{TROOPS} [1] {supported} [2]")
    assert answer.generation.fallback is None
    assert [r.text for r in answer.generation.removed] == [TROOPS]
    assert answer.generation.removed[0].reason == "quote failed verification"
    assert [c.doc_id for c in answer.citations] == ["peace"] and TROOPS not in answer.answer
    assert_all_verbatim(answer.citations, small_engine.data.documents)


def test_a_document_changed_while_the_model_writes_is_not_quoted_by_the_fallback(small_engine):
    answer = _answer_while_the_document_changes(small_engine, f"{TROOPS} [1]")
    assert answer.generation.removed[0].reason == "quote failed verification"
    assert_all_verbatim(answer.citations, small_engine.data.documents)
