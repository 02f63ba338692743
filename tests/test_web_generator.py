"""The web chat with a language model, without a browser or a real model.

A tiny real index (hashed bag-of-words embedder, so it builds in a second) and
scripted generators (small fake objects, not patches) drive ui/chat.py's
`stream_generated`, the streaming path behind the chat, and ui/render.py's
draft and generation notes. The `/ask` API is called over HTTP with
gradio_client on a launched app to check that it stays extractive.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.engine import Engine
from rag.generators import GenerationError
from rag.types import Answer, Generation
from tests.fakes import two_document_engine
from tests.web_fixtures import free_port
from ui import chat
from ui.render import answer_html, draft_html

GENEVA = "Who was dispatched to Geneva?"
SUPPORTED = "Marco Rubio has been dispatched to Geneva to negotiate [1]."
HOSTILE = "<img src=x onerror=alert(1)><script>alert('x')</script> The moon is made of cheese [2]."


class ScriptedGenerator:
    """Replies with a fixed text, a few characters at a time with a pause between pieces.

    `fail_after` pieces (when set) it raises GenerationError instead, like a
    server that went away mid-answer. Records calls and how many pieces were taken.
    """

    def __init__(self, reply: str, delay: float = 0.0, fail_after: int | None = None) -> None:
        self.name = "scripted<model>"
        self.reply = reply
        self.delay = delay
        self.fail_after = fail_after
        self.calls = 0
        self.taken = 0
        self.closed = threading.Event()

    def pieces(self) -> list[str]:
        return [self.reply[i : i + 3] for i in range(0, len(self.reply), 3)]

    def stream(self, messages) -> Iterator[str]:
        self.calls += 1
        try:
            for number, piece in enumerate(self.pieces()):
                if self.fail_after is not None and number >= self.fail_after:
                    raise GenerationError("no answer from the model server at http://model.invalid/v1")
                time.sleep(self.delay)
                self.taken += 1
                yield piece
        finally:
            self.closed.set()


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return two_document_engine(tmp_path_factory.mktemp("web-generator"))


def run(engine: Engine, generator: ScriptedGenerator, question: str = GENEVA, exchanges=()) -> list[chat.Exchange]:
    return list(chat.stream_generated(engine, question, list(exchanges), generator, refresh_seconds=0.01))


def draft_texts(states: list[chat.Exchange]) -> list[str]:
    """The escaped draft text shown in each draft state (empty when none yet)."""
    texts = []
    for state in states:
        match = re.search(r'<p class="rag-draft-text">(.*?)</p>', state.html, re.S)
        texts.append(match.group(1) if match else "")
    return texts


def assert_quotes_verbatim(exchange: chat.Exchange, engine: Engine) -> None:
    answer = exchange.answer
    assert answer is not None and answer.citations
    for citation in answer.citations:
        document = engine.data.documents[citation.doc_id]
        assert document.text[citation.start : citation.end] == citation.quote


# -- streaming ---------------------------------------------------------------


def test_drafts_stream_before_the_verified_answer_replaces_them(small_engine: Engine) -> None:
    generator = ScriptedGenerator(SUPPORTED, delay=0.02)
    states = run(small_engine, generator)
    *drafts, final = states
    assert drafts and all(state.draft for state in drafts)
    assert "Searching the documents" in drafts[0].html  # the question shows at once
    texts = [text for text in draft_texts(drafts) if text]
    assert len(texts) >= 3, "the draft should grow in several steps"
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert any("being verified against the documents" in state.html for state in drafts)
    assert texts[-1] == SUPPORTED and "rag-draft-checking" in drafts[-1].html  # all of it, while checked

    assert not final.draft and final.error is None and final.answer is not None
    assert "rag-draft" not in final.html
    assert "Marco Rubio" in final.answer.answer
    assert_quotes_verbatim(final, small_engine)
    identifier = final.id
    assert f'href="#cite-{identifier}-1"' in final.html and f'id="cite-{identifier}-1"' in final.html
    assert "Written by scripted&lt;model&gt;" in final.html
    assert all(state.id == identifier for state in states)


def test_a_fast_generator_is_redrawn_at_most_once_per_refresh(small_engine: Engine) -> None:
    generator = ScriptedGenerator(SUPPORTED * 20)  # 400 pieces, no pause
    states = list(chat.stream_generated(small_engine, GENEVA, [], generator, refresh_seconds=0.5))
    assert len(states) < 10 < len(generator.pieces())


def test_removed_sentences_are_listed_and_model_text_cannot_inject_markup(small_engine: Engine) -> None:
    states = run(small_engine, ScriptedGenerator(f"{SUPPORTED} {HOSTILE}", delay=0.005))
    final = states[-1]
    assert final.answer is not None and final.answer.generation is not None
    removed = final.answer.generation.removed
    assert [r.text for r in removed] == [
        "<img src=x onerror=alert(1)><script>alert('x')</script> The moon is made of cheese."
    ]
    page = final.html
    assert "Removed: not supported by the documents" in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; The moon is made of cheese." in page
    for state in states:
        assert "<script" not in state.html and "<img" not in state.html
    assert any("&lt;img src=x onerror=alert(1)&gt;" in text for text in draft_texts(states[:-1]))
    assert "cheese" not in final.answer.answer
    assert_quotes_verbatim(final, small_engine)


def test_a_draft_with_nothing_supported_says_it_fell_back_to_quotes(small_engine: Engine) -> None:
    final = run(small_engine, ScriptedGenerator("The moon is made of cheese [1]."))[-1]
    assert final.answer is not None and final.answer.generation is not None
    assert final.answer.generation.fallback == "extractive"
    assert "wrote nothing the documents support, so this is the quotes-only answer" in final.html
    assert final.answer.answer == small_engine.ask(GENEVA).answer
    assert_quotes_verbatim(final, small_engine)


def test_the_chat_passes_the_entailment_judge_through(small_engine: Engine) -> None:
    class SaysNo:
        name = "says no"

        def supports(self, statement: str, quotes) -> bool:
            return False

    states = chat.stream_generated(small_engine, GENEVA, [], ScriptedGenerator(SUPPORTED), entailment=SaysNo())
    final = list(states)[-1]
    assert final.answer is not None and final.answer.generation is not None
    generation = final.answer.generation
    assert generation.entailment_judge == "says no" and generation.fallback == "extractive"
    assert [r.reason for r in generation.removed] == ["the entailment judge found no support"]
    assert_quotes_verbatim(final, small_engine)


def test_a_clear_refusal_never_asks_the_model(small_engine: Engine) -> None:
    generator = ScriptedGenerator("Bake it for an hour [1].")
    states = run(small_engine, generator, "What is a good recipe for banana bread?")
    assert generator.calls == 0
    assert all("rag-draft-searching" in state.html for state in states[:-1])
    final = states[-1]
    assert final.answer is not None and final.answer.refused
    assert "The documents don't answer this question." in final.html
    assert "was not asked" in final.html


def test_a_model_error_ending_in_a_question_is_not_given_a_second_full_stop(small_engine: Engine) -> None:
    class Unreachable(ScriptedGenerator):
        def stream(self, messages) -> Iterator[str]:
            raise GenerationError("no answer from http://127.0.0.1:9/v1; is it running?")
            yield ""

    failed = run(small_engine, Unreachable(""))[-1]
    assert failed.error == (
        "The language model could not answer: no answer from http://127.0.0.1:9/v1; is it running? "
        "Try again, or switch to quotes-only answers."
    )


def test_a_model_error_is_a_readable_message_and_the_next_question_works(small_engine: Engine) -> None:
    broken = ScriptedGenerator(SUPPORTED, delay=0.03, fail_after=4)
    states = run(small_engine, broken)
    failed = states[-1]
    assert failed.answer is None and not failed.draft
    assert failed.error == (
        "The language model could not answer: no answer from the model server at http://model.invalid/v1. "
        "Try again, or switch to quotes-only answers."
    )
    assert 'role="alert"' in failed.html and "Traceback" not in failed.html
    assert any(text.startswith("Marco") for text in draft_texts(states))  # what came before the failure showed

    follow_up = run(small_engine, ScriptedGenerator(SUPPORTED), GENEVA, [failed])[-1]
    assert follow_up.error is None
    assert_quotes_verbatim(follow_up, small_engine)
    assert [m["role"] for m in chat.messages([failed, follow_up])] == ["user", "assistant"] * 2


def test_a_reader_that_leaves_stops_the_model(small_engine: Engine) -> None:
    generator = ScriptedGenerator(SUPPORTED * 10, delay=0.01)
    states = chat.stream_generated(small_engine, GENEVA, [], generator, refresh_seconds=0.01)
    while "rag-draft-drafting" not in next(states).html:
        pass
    states.close()  # what gradio does when the browser goes away
    assert generator.closed.wait(5)
    assert generator.taken < len(generator.pieces())


def test_follow_ups_get_the_verified_answer_not_the_draft(small_engine: Engine) -> None:
    first = run(small_engine, ScriptedGenerator(f"{SUPPORTED} {HOSTILE}"))[-1]
    turns = chat.history([first])
    assert [t.role for t in turns] == ["user", "assistant"]
    assert "cheese" not in turns[1].content and "Marco Rubio" in turns[1].content


# -- rendering ---------------------------------------------------------------


def test_draft_html_escapes_the_model_and_marks_the_stage() -> None:
    page = draft_html('<b onclick="x()">bold</b> [1]', "drafting", "<i>gen</i>")
    assert "<b" not in page and "<i>" not in page
    assert "&lt;b onclick=&quot;x()&quot;&gt;bold&lt;/b&gt; [1]" in page and "&lt;i&gt;gen&lt;/i&gt;" in page
    assert "Drafting… (being verified against the documents)" in page
    assert 'class="rag-draft rag-draft-checking"' in draft_html("x", "checking", "g")
    assert 'class="rag-draft rag-draft-drafting"' in draft_html("x", '"><script>', "g")


def test_an_extractive_answer_has_no_model_note(small_engine: Engine) -> None:
    answer: Answer = small_engine.ask(GENEVA)
    page = answer_html(answer, small_engine.data.documents, "a1")
    assert "rag-generation" not in page and "generate" not in page
    assert re.search(r"answered in \d+ ms \(retrieve \d+ ms · select \d+ ms · compose \d+ ms\)", page)


# -- the app -----------------------------------------------------------------


def elem_ids(app) -> set[str]:
    return {block.elem_id for block in app.blocks.values() if getattr(block, "elem_id", None)}


def test_the_answer_mode_radio_is_there_only_with_a_generator(small_engine: Engine, tmp_path: Path) -> None:
    from ui.web import build_app

    plain = build_app(small_engine, tmp_path / "feedback.jsonl")
    assert "rag-answer-mode" not in elem_ids(plain)
    with_model = build_app(small_engine, tmp_path / "feedback.jsonl", generator=ScriptedGenerator(SUPPORTED))
    assert "rag-answer-mode" in elem_ids(with_model)


@pytest.mark.slow
def test_the_ask_api_stays_extractive_with_a_generator(small_engine: Engine, tmp_path: Path) -> None:
    from gradio_client import Client

    from ui.web import build_app, launch

    generator = ScriptedGenerator(SUPPORTED)
    app = build_app(small_engine, tmp_path / "feedback.jsonl", generator=generator)
    url = launch(app, host="127.0.0.1", port=free_port(), block=False)
    try:
        answer = Client(url, verbose=False).predict(GENEVA, api_name="/ask")
    finally:
        app.close()
    assert generator.calls == 0
    assert "generation" not in answer
    assert answer["answer"] == small_engine.ask(GENEVA).answer and answer["citations"]


def test_a_model_answer_shows_seconds_and_the_corrected_citations(small_engine: Engine) -> None:
    timings = {"retrieve": 27.0, "select": 859.0, "compose": 422.0, "generate": 19933.0, "verify": 422.0}
    answer = dataclasses.replace(
        small_engine.ask(GENEVA),
        timings_ms={**timings, "total": 21244.0},
        generation=Generation("local:m.gguf", "Rubio went.", corrected_citations=2),
    )
    page = answer_html(answer, small_engine.data.documents, "a2")
    assert "answered in 21.2 s (retrieve 27 ms · select 859 ms · generate 19.9 s · verify 422 ms)" in page
    assert "Written by local:m.gguf; every sentence was checked against the documents; 2 sentences were given" in page
    assert "The model's draft, before checking</summary><p>Rubio went.</p>" in page
